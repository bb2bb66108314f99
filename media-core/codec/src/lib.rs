//! Codecs for media-core's transcoder (filled by the transcoding issue).
