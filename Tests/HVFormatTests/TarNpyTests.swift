// The tar and npy writers of the token shards (formats/shards.md) against the formats' own rules: ustar header
// fields and checksum, 512-byte padding, the end marker; the npy magic, header dict and 64-byte data alignment.
// GNU tar reads the archive back (the pipeline test does the same with Python's tarfile, numpy and webdataset).
import Foundation
import XCTest
@testable import HVFormat

final class TarNpyTests: XCTestCase {
    /// Members of a ustar archive by the format's rules, checking each header's checksum.
    static func members(_ a: [UInt8]) throws -> [(name: String, data: [UInt8])] {
        var out: [(String, [UInt8])] = []
        var pos = 0
        func field(_ h: ArraySlice<UInt8>) -> String { String(decoding: h.prefix { $0 != 0 }, as: UTF8.self) }
        while pos + 512 <= a.count {
            let h = a[pos..<(pos + 512)]
            if h.allSatisfy({ $0 == 0 }) { break }
            var sum = 0
            for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
            XCTAssertEqual(Int(field(h[(pos + 148)..<(pos + 156)]).trimmingCharacters(in: .whitespaces), radix: 8), sum, "checksum")
            XCTAssertEqual(field(h[(pos + 257)..<(pos + 263)]), "ustar")
            XCTAssertEqual(h[pos + 156], UInt8(ascii: "0"))
            let size = Int(field(h[(pos + 124)..<(pos + 136)]), radix: 8)!
            out.append((field(h[pos..<(pos + 100)]), Array(a[(pos + 512)..<(pos + 512 + size)])))
            pos += 512 + (size + 511) / 512 * 512
        }
        XCTAssertEqual(a.count, pos + 1024, "two zero blocks end the archive")
        XCTAssertTrue(a[pos...].allSatisfy { $0 == 0 })
        return out
    }

    func testTarMembersPaddingChecksumAndEnd() throws {
        let members: [(name: String, data: [UInt8])] = [("000000001.json", Array("{}".utf8)), ("000000001.hvt", []),
                                                        ("000000002.l0.npy", [UInt8](repeating: 7, count: 512)),
                                                        ("000000002.txtemb.npy", [UInt8](repeating: 1, count: 1000))]
        let a = try TarWriter.archive(members)
        XCTAssertEqual(a.count % 512, 0)
        XCTAssertEqual(a.count, 512 * (4 + 0 + 1 + 1 + 2) + 1024)
        let back = try TarNpyTests.members(a)
        XCTAssertEqual(back.map(\.name), members.map(\.name))
        XCTAssertEqual(back.map(\.data), members.map(\.data))
        XCTAssertEqual(try TarWriter.archive(members), a, "fixed header fields: the same members give the same bytes")

        // GNU tar agrees.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tar-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.tar")
        try Data(a).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tar", "-tvf", file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let listing = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(listing.split(separator: "\n").count, 4, listing)
        XCTAssertTrue(listing.contains("1000 1970-01-01 00:00 000000002.txtemb.npy"), listing)
    }

    /// TarReader gives back what TarWriter wrote, and refuses a damaged header, a cut archive and a directory.
    func testTarReaderRoundTripAndRefusals() throws {
        let members: [(name: String, data: [UInt8])] = [("000000001.json", Array("{}".utf8)), ("000000001.hvt", []),
                                                        ("000000002.txtemb.npy", [UInt8](repeating: 1, count: 1000))]
        let a = try TarWriter.archive(members)
        let back = try TarReader.members(a, name: "a.tar")
        XCTAssertEqual(back.map(\.name), members.map(\.name))
        XCTAssertEqual(back.map(\.data), members.map(\.data))
        XCTAssertEqual(try TarReader.members(try TarWriter.archive([]), name: "empty.tar").count, 0)
        func refused(_ bytes: [UInt8], _ words: String) {
            XCTAssertThrowsError(try TarReader.members(bytes, name: "x.tar")) { e in
                XCTAssertTrue("\(e)".contains(words), "\(e)")
            }
        }
        var damaged = a
        damaged[3] ^= 1                                       // a name byte: the checksum no longer matches
        refused(damaged, "checksum")
        refused(Array(a[0..<(512 + 512 + 100)]), "end-of-archive")     // cut inside the second header's data
        refused(Array(a[0..<1536]), "end-of-archive")          // no end marker
        var big = a
        let size = Array(String(format: "%011o", 1 << 20).utf8)  // first member claims 1 MiB
        for (i, b) in size.enumerated() { big[124 + i] = b }
        var sum = 0
        for i in 0..<512 { sum += (148..<156).contains(i) ? 0x20 : Int(big[i]) }
        for (i, b) in Array(String(format: "%06o", sum).utf8).enumerated() { big[148 + i] = b }
        refused(big, "past the end")
        var dir = a
        dir[156] = UInt8(ascii: "5")
        sum = 0
        for i in 0..<512 { sum += (148..<156).contains(i) ? 0x20 : Int(dir[i]) }
        for (i, b) in Array(String(format: "%06o", sum).utf8).enumerated() { dir[148 + i] = b }
        refused(dir, "not a regular file")
    }

    func testTarRefusesNamesItCannotHold() {
        XCTAssertThrowsError(try TarWriter.archive([(String(repeating: "k", count: 101), [])])) {
            XCTAssertEqual($0 as? TarError, .badName(name: String(repeating: "k", count: 101)))
        }
        XCTAssertThrowsError(try TarWriter.archive([("", [1])]))
        XCTAssertNoThrow(try TarWriter.archive([(String(repeating: "k", count: 100), [])]))
    }

    func testNpyHeaderAndData() {
        let a = NumpyArray.int32([1, -1, 70000, 0, 5, 6], shape: [1, 2, 3])
        XCTAssertEqual(Array(a[0..<8]), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(a[8]) | Int(a[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0, "data starts 64-byte aligned")
        let dict = String(decoding: a[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(dict.hasPrefix("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2, 3), }"), dict)
        XCTAssertTrue(dict.hasSuffix(" \n"))
        XCTAssertEqual(a.count, 10 + headerLength + 24)
        let data = Array(a[(10 + headerLength)...])
        XCTAssertEqual(Array(data[4..<8]), [0xFF, 0xFF, 0xFF, 0xFF], "-1, little-endian")
        XCTAssertEqual(Array(data[8..<12]), [0x70, 0x11, 0x01, 0x00], "70000, little-endian")

        let f = NumpyArray.float16([1, -2, 0.1], shape: [3])
        let n = Int(f[8]) | Int(f[9]) << 8
        XCTAssertTrue(String(decoding: f[10..<(10 + n)], as: UTF8.self).contains("'descr': '<f2', 'fortran_order': False, 'shape': (3,), }"))
        XCTAssertEqual(Array(f[(10 + n)...]), [0x00, 0x3C, 0x00, 0xC0, 0x66, 0x2E], "binary16 1, -2, 0.1 (rounded to nearest)")
    }
}
