//! Image bytes on the wire: their content type, sniffed from the first bytes
//! when the caller gave none. (Their base64, for the JSON form that
//! parameters need, is the platform's: `client::tasks`.)

/// How many leading bytes [`sniff_image_type`] looks at.
pub const SNIFF_BYTES: usize = 12;

/// The MIME type of an image from its first bytes, for the formats image
/// models take (JPEG, PNG, GIF, WebP, BMP, AVIF); `None` when unknown (the
/// body then goes untyped).
pub fn sniff_image_type(head: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], usize, &str); 7] = [
        (b"\xFF\xD8\xFF", 0, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
        (b"GIF87a", 0, "image/gif"),
        (b"GIF89a", 0, "image/gif"),
        (b"WEBP", 8, "image/webp"),
        (b"BM", 0, "image/bmp"),
        (b"ftypavif", 4, "image/avif"),
    ];
    sniff(head, &KINDS)
}

/// The type of the first of `kinds` (magic bytes, their offset, the type)
/// whose magic `head` has; a magic at offset 8 is a RIFF container's.
fn sniff(head: &[u8], kinds: &[(&[u8], usize, &'static str)]) -> Option<&'static str> {
    kinds.iter().find_map(|(magic, at, mime)| {
        let riff_ok = *at != 8 || head.starts_with(b"RIFF");
        let found = head.get(*at..at + magic.len()) == Some(*magic);
        (found && riff_ok).then_some(*mime)
    })
}

/// The MIME type of audio from its first bytes (WAV, FLAC, MP3, Ogg,
/// WebM), for the speech and audio tasks; `None` when unknown.
pub fn sniff_audio_type(head: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], usize, &str); 6] = [
        (b"WAVE", 8, "audio/wav"),
        (b"fLaC", 0, "audio/flac"),
        (b"ID3", 0, "audio/mpeg"),
        (b"\xFF\xFB", 0, "audio/mpeg"),
        (b"OggS", 0, "audio/ogg"),
        (b"\x1A\x45\xDF\xA3", 0, "audio/webm"),
    ];
    sniff(head, &KINDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(
            sniff_image_type(b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_image_type(b"\x89PNG\r\n\x1a\n\0\0\0\x0d"),
            Some("image/png")
        );
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(sniff_image_type(b"XXXX\0\0\0\0WEBPVP8 "), None);
        assert_eq!(sniff_image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(sniff_image_type(b"\0\0\0\x1cftypavif"), Some("image/avif"));
        assert_eq!(sniff_image_type(b"hello"), None);
        assert_eq!(sniff_image_type(b""), None);
        assert_eq!(
            sniff_audio_type(b"RIFF\x24\0\0\0WAVEfmt "),
            Some("audio/wav")
        );
        assert_eq!(sniff_audio_type(b"fLaC\0\0\0\x22"), Some("audio/flac"));
        assert_eq!(sniff_audio_type(b"ID3\x04\0"), Some("audio/mpeg"));
        assert_eq!(sniff_audio_type(b"OggS\0\x02"), Some("audio/ogg"));
        assert_eq!(sniff_audio_type(b"RIFF\0\0\0\0WEBPVP8 "), None);
    }
}
