//! The NG client and the media nodes it drives.
