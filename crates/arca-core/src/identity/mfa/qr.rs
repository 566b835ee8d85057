//! The QR code of a TOTP `otpauth://` URL, as a square grey PNG of `size` pixels (OpenBao's
//! `qr_size`), base64 encoded as its `barcode` field.

use base64::Engine;
use qrcodegen::{QrCode, QrCodeEcc};

/// Modules of white border around the code.
const QUIET_ZONE: i32 = 4;

/// The base64 PNG of `text`'s QR code, `size` pixels square; `None` if it cannot be made.
pub(crate) fn barcode(text: &str, size: u32) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let modules = qr.size() + 2 * QUIET_ZONE;
    let side = size.max(1);
    let mut pixels = Vec::with_capacity((side * side) as usize);
    for y in 0..side {
        let my = (y as i64 * modules as i64 / side as i64) as i32 - QUIET_ZONE;
        for x in 0..side {
            let mx = (x as i64 * modules as i64 / side as i64) as i32 - QUIET_ZONE;
            pixels.push(if qr.get_module(mx, my) { 0u8 } else { 255u8 });
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().ok()?;
        w.write_image_data(&pixels).ok()?;
    }
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_png_of_the_asked_size() {
        let b64 = super::barcode("otpauth://totp/x:y?secret=AAAA", 200).unwrap();
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR width and height.
        assert_eq!(&png[16..24], &[0, 0, 0, 200, 0, 0, 0, 200]);
    }
}
