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

    /// A megabyte in uneven pieces (partial blocks before, between and after whole ones) against Python's hashlib.
    func testLargeInputInUnevenPiecesMatchesReference() {
        let bytes = (0..<1_000_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var a = SHA256()
        var i = 0
        for size in [1, 63, 64, 65, 0, 127, 128, 4096, 100_000] + Array(repeating: 300_000, count: 3) {
            let j = min(bytes.count, i + size)
            bytes.withUnsafeBytes { a.update(UnsafeRawBufferPointer(rebasing: $0[i..<j])) }
            i = j
        }
        XCTAssertEqual(i, bytes.count)
        XCTAssertEqual(a.finalize().map { String(format: "%02x", $0) }.joined(),
                       "98a99a78c43949f17251c669c6e3ff37064482fdc65e85ef1f21b70c2e48a81b")
        XCTAssertEqual(SHA256.hexDigest(of: bytes), "98a99a78c43949f17251c669c6e3ff37064482fdc65e85ef1f21b70c2e48a81b")
    }
}
