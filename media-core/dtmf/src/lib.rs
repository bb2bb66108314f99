//! DTMF for media-core (filled by the transcoding and DTMF issue).
