import XCTest
import HVCore

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hexDigest(of: []), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hexDigest(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hexDigest(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testStreamingEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var a = SHA256()
        bytes.withUnsafeBytes { a.update(UnsafeRawBufferPointer(rebasing: $0[0..<333])) }
        bytes.withUnsafeBytes { a.update(UnsafeRawBufferPointer(rebasing: $0[333..<1000])) }
        let streamed = a.finalize().map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(streamed, SHA256.hexDigest(of: bytes))
    }
}
