//! What sip-control needs to know about an SDP body without rewriting it
//! (media-core rewrites it over NG).

use sluice_sdp::SessionDescription;

/// Whether any audio section of the SDP offers RFC 4733 telephone-event.
pub fn has_telephone_event(sdp: &[u8]) -> bool {
    let Some(session) = parse(sdp) else {
        return false;
    };
    session.media().iter().any(|section| {
        section.kind().eq_ignore_ascii_case("audio")
            && section
                .rtpmap()
                .any(|map| map.encoding.eq_ignore_ascii_case("telephone-event"))
    })
}

/// The audio codec names the SDP lists, in its order (static payload
/// types without an rtpmap by their RFC 3551 names), telephone-event and
/// comfort noise left out.
pub fn audio_codecs(sdp: &[u8]) -> Vec<String> {
    let Some(session) = parse(sdp) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for section in session
        .media()
        .iter()
        .filter(|s| s.kind().eq_ignore_ascii_case("audio"))
    {
        let maps: Vec<_> = section.rtpmap().collect();
        for format in section.formats() {
            let Ok(pt) = format.parse::<u8>() else {
                continue;
            };
            let name = match maps.iter().find(|m| m.payload_type == pt) {
                Some(map) => map.encoding.clone(),
                None => match static_name(pt) {
                    Some(name) => name.to_owned(),
                    None => continue,
                },
            };
            let skip =
                name.eq_ignore_ascii_case("telephone-event") || name.eq_ignore_ascii_case("CN");
            if !skip && !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                names.push(name);
            }
        }
    }
    names
}

fn static_name(pt: u8) -> Option<&'static str> {
    match pt {
        0 => Some("PCMU"),
        3 => Some("GSM"),
        8 => Some("PCMA"),
        9 => Some("G722"),
        18 => Some("G729"),
        _ => None,
    }
}

/// Whether the body parses as SDP at all.
pub fn is_valid(sdp: &[u8]) -> bool {
    parse(sdp).is_some()
}

fn parse(sdp: &[u8]) -> Option<SessionDescription> {
    SessionDescription::parse(std::str::from_utf8(sdp).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_TE: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    const WITHOUT_TE: &str =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn telephone_event_is_found_only_where_offered() {
        assert!(has_telephone_event(WITH_TE.as_bytes()));
        assert!(!has_telephone_event(WITHOUT_TE.as_bytes()));
        assert!(!has_telephone_event(b"garbage"));
        assert!(!has_telephone_event(&[0xff, 0xfe]));
        assert!(is_valid(WITH_TE.as_bytes()));
    }

    #[test]
    fn audio_codecs_name_static_and_mapped_payload_types() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
            m=audio 4000 RTP/AVP 8 0 96 101 13\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n";
        assert_eq!(audio_codecs(sdp.as_bytes()), ["PCMA", "PCMU", "opus"]);
        assert!(audio_codecs(b"nonsense").is_empty());
    }
}
