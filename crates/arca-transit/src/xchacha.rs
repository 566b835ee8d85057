//! XChaCha20-Poly1305 on top of aws-lc-rs' ChaCha20-Poly1305: HChaCha20 turns the key and the
//! first 16 nonce bytes into a subkey, which seals with the last 8 nonce bytes behind four
//! zero bytes (draft-irtf-cfrg-xchacha). HChaCha20 is add-rotate-xor only, so constant-time.

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// HChaCha20 of a 32-byte key and 16-byte input.
fn hchacha20(key: &[u8; 32], input: &[u8; 16]) -> Zeroizing<[u8; 32]> {
    let mut s = Zeroizing::new([0u32; 16]);
    s[0] = 0x6170_7865;
    s[1] = 0x3320_646e;
    s[2] = 0x7962_2d32;
    s[3] = 0x6b20_6574;
    for i in 0..8 {
        s[4 + i] = u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
    }
    for i in 0..4 {
        s[12 + i] = u32::from_le_bytes([
            input[4 * i],
            input[4 * i + 1],
            input[4 * i + 2],
            input[4 * i + 3],
        ]);
    }
    for _ in 0..10 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, w) in [s[0], s[1], s[2], s[3], s[12], s[13], s[14], s[15]]
        .iter()
        .enumerate()
    {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

fn subkey(key: &[u8], nonce: &[u8]) -> Option<(LessSafeKey, Nonce)> {
    let key: &[u8; 32] = key.try_into().ok()?;
    let head: &[u8; 16] = nonce.get(..16)?.try_into().ok()?;
    let sub = hchacha20(key, head);
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(nonce.get(16..24)?);
    let k = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, sub.as_slice()).ok()?);
    Some((k, Nonce::assume_unique_for_key(n)))
}

/// Seals `plaintext` under the 24-byte `nonce`: ciphertext and tag.
pub fn seal(key: &[u8], nonce: &[u8], plaintext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let (k, n) = subkey(key, nonce)?;
    let mut buf = plaintext.to_vec();
    k.seal_in_place_append_tag(n, Aad::from(aad), &mut buf)
        .ok()?;
    Some(buf)
}

/// Opens ciphertext and tag under the 24-byte `nonce`.
pub fn open(key: &[u8], nonce: &[u8], sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let (k, n) = subkey(key, nonce)?;
    let mut buf = sealed.to_vec();
    let len = k.open_in_place(n, Aad::from(aad), &mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    #[test]
    fn hchacha20_vector() {
        // draft-irtf-cfrg-xchacha-03 section 2.2.1
        let key: [u8; 32] =
            unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
                .try_into()
                .unwrap();
        let input: [u8; 16] = unhex("000000090000004a0000000031415927")
            .try_into()
            .unwrap();
        assert_eq!(
            hex::encode(hchacha20(&key, &input).as_slice()),
            "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
        );
    }

    #[test]
    fn xchacha_vector() {
        // draft-irtf-cfrg-xchacha-03 appendix A.3.1
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let key = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        let nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
        let out = seal(&key, &nonce, pt, &aad).unwrap();
        let tag = &out[out.len() - 16..];
        assert_eq!(hex::encode(tag), "c0875924c1c7987947deafd8780acf49");
        assert_eq!(hex::encode(&out[..16]), "bd6d179d3e83d43b9576579493c0e939");
        assert_eq!(open(&key, &nonce, &out, &aad).unwrap(), pt.to_vec());
    }
}
