import XCTest
@testable import HVFormat

func sampleHeader(bits: [Int] = [18, 16, 14, 12], grids: [(Int, Int, Int)] = [(8, 16, 16), (4, 8, 8), (2, 8, 8), (1, 4, 4)]) -> HVTHeader {
    HVTHeader(tokenizer: TokenizerIdentity(name: "hitvideo-test", hash: String(repeating: "ab", count: 32)), fpsNumerator: 8, fpsDenominator: 1,
              width: 256, height: 256, framesPerClip: 64,
              layers: zip(bits, grids).enumerated().map { HVTLayerInfo(name: "L\($0.offset)", gridT: $0.element.1.0, gridH: $0.element.1.1, gridW: $0.element.1.2, bits: $0.element.0) },
              source: "test")
}

func randomClip(_ h: HVTHeader, seed: UInt64, frames: Int = 64, maskEvery: Int = 0) -> HVTClip {
    var g = SystemRandomNumberGenerator()
    _ = g
    var state = seed &+ 0x9E3779B97F4A7C15
    func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 11 }
    var layers: [[UInt32]?] = [], masks: [[Bool]?] = []
    for l in h.layers {
        guard l.present else { layers.append(nil); masks.append(nil); continue }
        let mask: [Bool]? = maskEvery > 0 ? (0..<l.tokenCount).map { $0 % maskEvery == 1 } : nil
        layers.append((0..<l.tokenCount).map { i in mask?[i] == true ? 0 : UInt32(next() % (UInt64(1) << UInt64(l.bits))) })
        masks.append(mask)
    }
    return HVTClip(frameCount: frames, layers: layers, masks: masks)
}

func encode(_ h: HVTHeader, _ clips: [HVTClip], finish: Bool = true) throws -> [UInt8] {
    var out: [UInt8] = []
    let w = try HVTWriter(header: h) { out += $0 }
    try w.writeHeader()
    for c in clips { try w.write(c) }
    if finish { try w.finish() }
    return out
}

func decodeAll(_ bytes: [UInt8]) throws -> (HVTHeader, [HVTClip]) {
    let r = try HVTReader(bytes: bytes)
    var clips: [HVTClip] = []
    while let c = try r.nextClip() { clips.append(c) }
    return (r.header, clips)
}

final class HVTTests: XCTestCase {
    func testCRC32CMatchesReferenceAndKnownValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        for n in [0, 1, 7, 8, 9, 100, 1001] {
            let b = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            XCTAssertEqual(CRC32C.checksum(b), CRC32C.reference(b), "n=\(n)")
        }
    }

    func testBitPackingMatchesNaiveAtEveryWidth() {
        for bits in 1...20 {
            for count in [0, 1, 7, 33, 257] {
                let vals = (0..<count).map { UInt32(truncatingIfNeeded: ($0 &* 2654435761) >> 3) & ((1 << UInt32(bits)) - 1) }
                let fast = BitPacking.pack(vals, bits: bits)
                XCTAssertEqual(fast, BitPacking.packNaive(vals, bits: bits), "bits \(bits) count \(count)")
                XCTAssertEqual(fast.withUnsafeBytes { BitPacking.unpack($0, count: count, bits: bits) }, vals)
                XCTAssertEqual(BitPacking.unpackNaive(fast, count: count, bits: bits), vals)
            }
        }
    }

    func testRoundTripAtEveryCodeWidth() throws {
        for bits in 1...20 {
            let h = sampleHeader(bits: [bits], grids: [(2, 3, 5)])
            let clips = [randomClip(h, seed: UInt64(bits)), randomClip(h, seed: 99, frames: 17)]
            let (h2, c2) = try decodeAll(try encode(h, clips))
            XCTAssertEqual(h2, h)
            XCTAssertEqual(c2, clips, "bits \(bits)")
        }
    }

    func testRoundTripPaperGeometryWithMasksAndPartialClip() throws {
        var h = sampleHeader()
        h.maskStrategy = .repeatPrevious; h.maskRatio = 0.85
        let clips = [randomClip(h, seed: 1, maskEvery: 3), randomClip(h, seed: 2), randomClip(h, seed: 3, frames: 5, maskEvery: 2)]
        let (h2, c2) = try decodeAll(try encode(h, clips))
        XCTAssertEqual(h2, h)
        XCTAssertEqual(c2, clips)
    }

    func testEmptyFileAndAbsentLayers() throws {
        var h = sampleHeader()
        XCTAssertEqual(try decodeAll(try encode(h, [])).1.count, 0)
        h.layers[0].present = false; h.layers[1].present = false
        let clips = [randomClip(h, seed: 4)]
        let (_, c2) = try decodeAll(try encode(h, clips))
        XCTAssertEqual(c2, clips)
        XCTAssertNil(c2[0].layers[0])
    }

    func testTruncationAtEveryOffsetIsReported() throws {
        let h = sampleHeader(bits: [6, 4], grids: [(2, 2, 2), (1, 1, 1)])
        let bytes = try encode(h, [randomClip(h, seed: 5), randomClip(h, seed: 6)])
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try decodeAll(Array(bytes[0..<cut])), "cut \(cut)") { e in
                guard let err = e as? HVTError else { return XCTFail("\(e)") }
                switch err {
                case .truncated(let offset, _): XCTAssertLessThanOrEqual(offset, cut)
                case .notHVT: XCTAssertLessThan(cut, 12)
                default: XCTFail("cut \(cut): \(err)")
                }
            }
        }
    }

    func testDataAfterTheEndRecordIsRefused() throws {
        let h = sampleHeader(bits: [6, 4], grids: [(2, 2, 2), (1, 1, 1)])
        let one = try encode(h, [randomClip(h, seed: 8)])
        XCTAssertEqual(try decodeAll(one).1.count, 1)
        for glued in [one + one, one + [0]] {
            XCTAssertThrowsError(try decodeAll(glued)) { e in
                XCTAssertTrue("\(e)".contains("after the end record (HEND ends at byte \(one.count))"), "\(e)")
            }
        }
    }

    func testBitFlipsAreDetected() throws {
        let h = sampleHeader(bits: [6, 4], grids: [(2, 2, 2), (1, 1, 1)])
        let bytes = try encode(h, [randomClip(h, seed: 7)])
        for i in 12..<bytes.count {
            var b = bytes
            b[i] ^= 0x10
            XCTAssertThrowsError(try decodeAll(b), "flip at \(i)")
        }
    }

    func testForeignMagicAndWrongVersion() throws {
        let bytes = try encode(sampleHeader(), [])
        var foreign = bytes; foreign[1] = 0x58
        XCTAssertThrowsError(try decodeAll(foreign)) { XCTAssertTrue("\($0)".contains("not an .hvt")) }
        var version = bytes; version[8] = 2
        XCTAssertThrowsError(try decodeAll(version)) { XCTAssertTrue("\($0)".contains("version 2.0")) }
    }

    func testUnknownRecordsFollowTheCriticalAncillaryRule() throws {
        let h = sampleHeader(bits: [5], grids: [(1, 2, 2)])
        let bytes = try encode(h, [randomClip(h, seed: 8)])
        func record(_ type: String) -> [UInt8] {
            var w = ByteWriter(); w.raw(Array(type.utf8)); w.u32(3); w.raw([1, 2, 3])
            w.u32(CRC32C.checksum(w.bytes)); return w.bytes
        }
        // Insert after the header record: magic+version (12) + HVTH frame.
        let r = try HVTReader(bytes: bytes)
        let at = r.offset
        XCTAssertEqual(try decodeAll(Array(bytes[0..<at]) + record("note") + Array(bytes[at...])).1.count, 1)
        XCTAssertThrowsError(try decodeAll(Array(bytes[0..<at]) + record("NOTE") + Array(bytes[at...]))) {
            XCTAssertTrue("\($0)".contains("unknown critical record 'NOTE'"))
        }
    }

    func testTokenizerMismatchNamesBoth() {
        let h = sampleHeader()
        XCTAssertNoThrow(try h.requireTokenizer(TokenizerIdentity(name: "hitvideo-test", hash: String(repeating: "ab", count: 32))))
        XCTAssertThrowsError(try h.requireTokenizer(TokenizerIdentity(name: "hitvideo-small", hash: String(repeating: "cd", count: 32)))) { e in
            XCTAssertTrue("\(e)".contains("hitvideo-small@cdcd") && "\(e)".contains("hitvideo-test@abab"), "\(e)")
        }
    }

    /// Legal-looking headers that would make a reader hold gigabytes or report a meaningless bpp are refused by the
    /// writer and, through the same check, by the reader: a frame side over 16384, grids finer than the pixels they
    /// stand for, and more than 2^24 tokens per clip over all layers. (HVTHeader.decode runs the same check.)
    func testHeadersBeyondTheLimitsAreRefused() throws {
        var wide = sampleHeader()
        wide.width = 65535
        let fine = sampleHeader(bits: [12], grids: [(1, 512, 512)])
        var many = sampleHeader(bits: Array(repeating: 20, count: 16), grids: Array(repeating: (1, 4096, 4096), count: 16))
        many.width = 4096; many.height = 4096
        for (h, expect) in [(wide, "frame size 65535x256"), (fine, "finer than"), (many, "tokens per clip over all layers")] {
            XCTAssertThrowsError(try HVTWriter(header: h) { _ in }) { XCTAssertTrue("\($0)".contains(expect), "\($0)") }
        }
    }

    /// Masks need a strategy saying how to fill them: the writer refuses a masked clip under `none`, and so does
    /// the reader (a file whose header byte was set to none after masking).
    func testMasksWithoutAStrategyAreRefused() throws {
        let h = sampleHeader()
        XCTAssertThrowsError(try encode(h, [randomClip(h, seed: 2, maskEvery: 3)])) { XCTAssertTrue("\($0)".contains("no mask strategy"), "\($0)") }
        var masked = h
        masked.maskStrategy = .zero
        XCTAssertNoThrow(try encode(masked, [randomClip(masked, seed: 2, maskEvery: 3)]))
        XCTAssertEqual(MaskStrategy(name: "repeat"), .repeatPrevious)
        XCTAssertNil(MaskStrategy(name: "purple"))
    }

    func testWriterRejectsOutOfRangeIndex() throws {
        let h = sampleHeader(bits: [3], grids: [(1, 1, 2)])
        let w = try HVTWriter(header: h) { _ in }
        XCTAssertThrowsError(try w.write(HVTClip(frameCount: 1, layers: [[1, 8]])))
    }

    /// hv-mask's record (.hvt 1.1) survives a round trip; an unmasked file stays 1.0 byte for byte and reads
    /// without one; a 1.0 masked file (no record) still reads; a mask bitmap outside the recorded layers is refused.
    func testMaskRecordRoundTripAndOlderFiles() throws {
        var h = sampleHeader()
        let plain = try encode(h, [randomClip(h, seed: 3)])
        XCTAssertEqual(plain[10], 0, "an unmasked file is written as 1.0")
        XCTAssertNil(try HVTReader(bytes: plain).header.maskRecord)
        h.maskStrategy = .zero; h.maskRatio = 0.5
        let clip = randomClip(h, seed: 4, maskEvery: 3)   // masks on every layer
        let legacy = try encode(h, [clip])
        XCTAssertEqual(legacy[10], 0)
        let (lh, lc) = try decodeAll(legacy)
        XCTAssertNil(lh.maskRecord); XCTAssertEqual(lc, [clip])
        h.maskRecord = MaskRecord(layers: [3, 0, 1, 2], seed: 0xDEAD_BEEF_0123)
        let bytes = try encode(h, [clip])
        XCTAssertEqual(bytes[10], 1, "a file with a mask record is 1.1")
        let r = try HVTReader(bytes: bytes)
        XCTAssertEqual(r.versionMinor, 1)
        XCTAssertEqual(r.header.maskRecord, MaskRecord(layers: [0, 1, 2, 3], seed: 0xDEAD_BEEF_0123))
        XCTAssertEqual(try decodeAll(bytes).1, [clip])
        // The record names layer 0 only, the clip carries masks on all four.
        h.maskRecord = MaskRecord(layers: [0], seed: 1)
        let lying = try encode(h, [clip])
        XCTAssertThrowsError(try decodeAll(lying)) { XCTAssertTrue("\($0)".contains("masked_layers"), "\($0)") }
        // A record without a strategy, or naming a layer the file lacks, is refused by the writer.
        h.maskRecord = MaskRecord(layers: [7], seed: 1)
        XCTAssertThrowsError(try encode(h, []))
        h.maskRecord = MaskRecord(layers: [0], seed: 1); h.maskStrategy = .none
        XCTAssertThrowsError(try encode(h, []))
    }

    func testDocumentFieldNamesMatchCode() throws {
        let doc = try String(contentsOfFile: packageRoot() + "/formats/hvt.md", encoding: .utf8)
        // Field column of every layout table: "| offset | size | type | field | meaning |".
        var names: [String] = []
        for line in doc.split(separator: "\n") where line.hasPrefix("|") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if cells.count >= 6, cells[4].hasPrefix("`"), cells[4].hasSuffix("`") {
                names.append(String(cells[4].dropFirst().dropLast()))
            }
        }
        // The container's own fields (read by HVTReader before any payload), then every payload field in the
        // order the decoder reads them, traced while it reads a file with every record kind and a masked layer.
        var read: [String] = []
        ByteReader.fieldTrace = { if !read.contains($0) { read.append($0) } }
        defer { ByteReader.fieldTrace = nil }
        var h = sampleHeader()
        h.maskStrategy = .repeatPrevious; h.maskRatio = 0.5; h.maskRecord = MaskRecord(layers: [0, 1, 2, 3], seed: 9)
        _ = try decodeAll(try encode(h, [randomClip(h, seed: 1, maskEvery: 3)]))
        let container = ["magic", "version_major", "version_minor", "record_type", "payload_length", "payload", "crc32c"]
        XCTAssertEqual(Array(names.prefix(container.count)), container)
        XCTAssertEqual(Array(names.dropFirst(container.count)), read)
    }
}

func packageRoot(_ file: String = #filePath) -> String {
    var url = URL(fileURLWithPath: file)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    return FileManager.default.currentDirectoryPath
}
