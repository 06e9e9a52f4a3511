//! The handshake against scripted clients of each protocol version.

use super::*;
use std::io::Cursor;

/// A client whose bytes are all known in advance.
struct Scripted {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn client(bytes: &[u8]) -> Scripted {
    Scripted {
        input: Cursor::new(bytes.to_vec()),
        output: Vec::new(),
    }
}

const CHALLENGE: [u8; 16] = *b"0123456789abcdef";

fn server_init(name: &str) -> Vec<u8> {
    let mut v = vec![0x04, 0x00, 0x03, 0x00];
    v.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    v.extend_from_slice(&(name.len() as u32).to_be_bytes());
    v.extend_from_slice(name.as_bytes());
    v
}

#[test]
fn rfb_3_8_without_password() {
    let mut c = client(b"RFB 003.008\n\x01\x01");
    let minor = handshake(&mut c, None, CHALLENGE, 1024, 768, "vm").expect("handshake");
    assert_eq!(minor, Minor(8));
    let mut want = b"RFB 003.008\n\x01\x01\x00\x00\x00\x00".to_vec();
    want.extend(server_init("vm"));
    assert_eq!(c.output, want);
}

#[test]
fn rfb_3_3_gets_the_security_type_as_a_word_and_no_result() {
    let mut c = client(b"RFB 003.003\n\x00");
    assert_eq!(
        handshake(&mut c, None, CHALLENGE, 1024, 768, "vm").expect("handshake"),
        Minor(3)
    );
    let mut want = b"RFB 003.008\n\x00\x00\x00\x01".to_vec();
    want.extend(server_init("vm"));
    assert_eq!(c.output, want);
}

#[test]
fn rfb_3_7_and_vnc_auth_with_the_right_password() {
    let response = crate::vmm::display::vnc::des::vnc_auth_response(b"s3cret", &CHALLENGE);
    let mut input = b"RFB 003.007\n\x02".to_vec();
    input.extend_from_slice(&response);
    input.push(1);
    let mut c = client(&input);
    assert_eq!(
        handshake(&mut c, Some("s3cret"), CHALLENGE, 1024, 768, "vm").expect("handshake"),
        Minor(7)
    );
    let mut want = b"RFB 003.008\n\x01\x02".to_vec();
    want.extend_from_slice(&CHALLENGE);
    want.extend_from_slice(&[0, 0, 0, 0]);
    want.extend(server_init("vm"));
    assert_eq!(c.output, want);
}

#[test]
fn wrong_password_is_refused_with_a_reason_in_3_8() {
    let mut input = b"RFB 003.008\n\x02".to_vec();
    input.extend_from_slice(&[0u8; 16]);
    let mut c = client(&input);
    let err = handshake(&mut c, Some("s3cret"), CHALLENGE, 1024, 768, "vm");
    assert!(matches!(err, Err(RfbError::AuthFailed)));
    assert!(c
        .output
        .ends_with(b"\x00\x00\x00\x01\x00\x00\x00\x15authentication failed"));
}

#[test]
fn bad_versions_and_security_choices_are_refused() {
    let mut c = client(b"HTTP/1.1 200");
    assert!(matches!(
        handshake(&mut c, None, CHALLENGE, 1, 1, "vm"),
        Err(RfbError::Version(_))
    ));
    let mut c = client(b"RFB 003.008\n\x02");
    assert!(matches!(
        handshake(&mut c, None, CHALLENGE, 1, 1, "vm"),
        Err(RfbError::SecurityType(2))
    ));
    // Later versions are spoken as 3.8; a truncated client is an I/O error.
    let mut c = client(b"RFB 003.889\n\x01");
    assert!(matches!(
        handshake(&mut c, None, CHALLENGE, 1, 1, "vm"),
        Err(RfbError::Io(_))
    ));
}

#[test]
fn client_messages_parse_and_garbage_is_an_error() {
    let mut bytes = vec![3, 1, 0, 1, 0, 2, 0, 3, 0, 4];
    bytes.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0, 0x61]);
    bytes.extend_from_slice(&[2, 0, 0, 2, 0, 0, 0, 16, 0xff, 0xff, 0xfe, 0xfe]);
    bytes.extend_from_slice(&[255, 0, 0, 1, 0, 0, 0xff, 0x0d, 0, 0, 0, 0x1c]);
    bytes.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']);
    bytes.extend_from_slice(&[5, 1, 0, 10, 0, 20]);
    bytes.push(77);
    let mut r = Cursor::new(bytes);
    assert_eq!(
        read_message(&mut r).expect("request"),
        ClientMessage::UpdateRequest {
            incremental: true,
            x: 1,
            y: 2,
            w: 3,
            h: 4
        }
    );
    assert_eq!(
        read_message(&mut r).expect("key"),
        ClientMessage::Key {
            down: true,
            keysym: 0x61
        }
    );
    assert_eq!(
        read_message(&mut r).expect("encodings"),
        ClientMessage::SetEncodings(vec![16, encoding::QEMU_EXTENDED_KEY_EVENT])
    );
    assert_eq!(
        read_message(&mut r).expect("qemu key"),
        ClientMessage::QemuKey {
            down: true,
            keysym: 0xff0d,
            keycode: 0x1c
        }
    );
    assert_eq!(read_message(&mut r).expect("cut"), ClientMessage::CutText);
    assert_eq!(
        read_message(&mut r).expect("pointer"),
        ClientMessage::Pointer {
            buttons: 1,
            x: 10,
            y: 20
        }
    );
    assert!(matches!(
        read_message(&mut r),
        Err(RfbError::UnknownMessage(77))
    ));
    let mut huge = Cursor::new(vec![6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(read_message(&mut huge), Err(RfbError::TooLong(_))));
    let mut many = Cursor::new(vec![2, 0, 0xff, 0xff]);
    assert!(matches!(read_message(&mut many), Err(RfbError::TooLong(_))));
}
