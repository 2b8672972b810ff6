import XCTest
@testable import HVEngine

final class SafeTensorsTests: XCTestCase {
    func tmp(_ name: String) -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("hvst-\(getpid())-\(name)") }

    func testRoundTripAllStorableDTypesWithMetadata() throws {
        var rng = SeededRandom(seed: 5)
        let a = Tensor(shape: [3, 4]); a.randomNormal(std: 2, rng: &rng)
        let b = Tensor(shape: [5]); b.randomNormal(std: 100, rng: &rng)
        let c = Tensor(shape: [2, 1, 3]); c.randomNormal(std: 1e-3, rng: &rng)
        let e = Tensor(shape: [0, 7])
        let data = try SafeTensors.encode([.init(name: "zeta", tensor: a, dtype: .f32), .init(name: "b\"q", tensor: b, dtype: .f16),
                                           .init(name: "alpha", tensor: c, dtype: .bf16), .init(name: "empty", tensor: e)],
                                          metadata: ["format": "pt", "x\\y": "1\n2"])
        let headerLen = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        XCTAssertEqual(headerLen % 8, 0)
        let f = try SafeTensorsFile(data: data)
        XCTAssertEqual(f.metadata, ["format": "pt", "x\\y": "1\n2"])
        XCTAssertEqual(f.names, ["alpha", "b\"q", "empty", "zeta"])
        XCTAssertEqual(f.entries["zeta"]?.dtype, .f32)
        XCTAssertEqual(f.entries["zeta"]?.range.lowerBound, 0)   // largest dtype first, as HF writes
        XCTAssertEqual(try f.tensor("zeta").array, a.array)
        XCTAssertEqual(try f.tensor("b\"q").array, b.array.map { Float(Float16($0)) })
        XCTAssertEqual(try f.tensor("alpha").array, c.array.map { HalfFloat.float(fromBFloat16Bits: HalfFloat.bfloat16Bits(from: $0)) })
        XCTAssertEqual(try f.tensor("alpha").shape, [2, 1, 3])
        XCTAssertEqual(try f.tensor("empty").shape, [0, 7])
        for (x, y) in zip(try f.tensor("alpha").array, c.array) { XCTAssertEqual(x, y, accuracy: abs(y) / 128) }
    }

    func testStrictParameterLoad() throws {
        let p1 = Parameter("layer.weight", shape: [2, 3]), p2 = Parameter("layer.bias", shape: [2])
        for i in 0..<6 { p1.value[i] = Float(i) }
        p2.value[1] = 7
        let url = tmp("strict.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.save([p1, p2], to: url, metadata: ["k": "v"])
        let q1 = Parameter("layer.weight", shape: [2, 3]), q2 = Parameter("layer.bias", shape: [2])
        let file = try SafeTensorsFile(contentsOf: url)
        try file.load(into: [q1, q2])
        XCTAssertEqual(q1.value.array, p1.value.array)
        XCTAssertEqual(q2.value.array, [0, 7])

        XCTAssertThrowsError(try file.load(into: [q1])) {
            XCTAssertEqual($0 as? EngineError, .unexpectedTensor(name: "layer.bias", source: url.path)) }
        XCTAssertThrowsError(try file.load(into: [q1, q2, Parameter("other", shape: [1])])) {
            XCTAssertEqual($0 as? EngineError, .missingTensor(name: "other", source: url.path)) }
        let wrong = Parameter("layer.weight", shape: [3, 2])
        XCTAssertThrowsError(try file.load(into: [wrong, q2])) {
            XCTAssertEqual($0 as? EngineError, .shapeMismatch(name: "layer.weight", expected: [3, 2], found: [2, 3], source: url.path))
            XCTAssertEqual(($0 as? EngineError)?.exitCode, 65)
            XCTAssertTrue("\($0)".contains("layer.weight"))
        }
        XCTAssertEqual(wrong.value.array, [0, 0, 0, 0, 0, 0], "a failed load writes nothing")
        XCTAssertNoThrow(try file.load(into: [q1], allowExtra: true))
    }

    func testReadsFilesWrittenByPythonSafetensors() throws {
        let f = try SeqGolden.file("seq_python_mixed.safetensors")
        let ref = try SeqGolden.file("seq_python_mixed_ref.safetensors")
        XCTAssertEqual(f.metadata["format"], "pt")
        XCTAssertEqual(f.metadata["note"], "golden")
        for name in ["a.f32", "b.f16", "c.bf16"] {
            XCTAssertEqual(try f.tensor(name).array, try ref.tensor(name).array, name)
            XCTAssertEqual(try f.tensor(name).shape, try ref.tensor(name).shape, name)
        }
        XCTAssertEqual(f.entries["b.f16"]?.dtype, .f16)
        XCTAssertEqual(f.entries["c.bf16"]?.dtype, .bf16)
        XCTAssertEqual(try f.tensor("empty").shape, [0, 4])
        // An I64 tensor is listed but cannot be read as floats or loaded into an F32 parameter.
        XCTAssertEqual(f.entries["embeddings.position_ids"]?.dtype, .i64)
        XCTAssertThrowsError(try f.tensor("embeddings.position_ids")) {
            XCTAssertEqual($0 as? EngineError, .unsupportedDType(name: "embeddings.position_ids", dtype: "I64", source: f.source)) }
        XCTAssertThrowsError(try f.load(into: [Parameter("embeddings.position_ids", shape: [1, 12])], allowExtra: true)) {
            XCTAssertEqual($0 as? EngineError, .unsupportedDType(name: "embeddings.position_ids", dtype: "I64", source: f.source)) }
        XCTAssertEqual(try f.floatTensors().keys.sorted(), ["a.f32", "b.f16", "c.bf16", "empty"])
        let raw = try f.rawBytes("embeddings.position_ids")
        XCTAssertEqual(raw.count, 96)
        XCTAssertEqual(raw.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: 88, as: Int64.self)) }, 11)
    }

    func testOurFilesReadByPythonLayoutMatchesHF() throws {
        // Same tensors saved by us must be byte-identical to what python safetensors wrote (single dtype F32 file).
        let ref = try SeqGolden.file("seq_python_mixed_ref.safetensors")
        let ours = try SafeTensors.encode(ref.names.map { .init(name: $0, tensor: try! ref.tensor($0)) })
        XCTAssertEqual(ours, try Data(contentsOf: SeqGolden.url("seq_python_mixed_ref.safetensors")))
    }

    func testHalfAndBFloat16RoundingMatchesTorch() throws {
        let f = try SeqGolden.file("seq_rounding.safetensors")
        let values = try f.tensor("values").array
        XCTAssertEqual(values.map { HalfFloat.float(fromHalfBits: HalfFloat.halfBits(from: $0)) }, try f.tensor("as_f16").array)
        XCTAssertEqual(values.map { HalfFloat.float(fromBFloat16Bits: HalfFloat.bfloat16Bits(from: $0)) }, try f.tensor("as_bf16").array)
    }

    func testHalfConversionAgreesWithFloat16EverywhereAndRoundTrips() {
        for bits in 0...0xFFFF {
            let h = UInt16(bits)
            let f = HalfFloat.float(fromHalfBits: h)
            let ref = Float(Float16(bitPattern: h))
            if ref.isNaN { XCTAssertTrue(f.isNaN); continue }
            XCTAssertEqual(f.bitPattern, ref.bitPattern, "half \(bits)")
            XCTAssertEqual(HalfFloat.halfBits(from: f), h, "half \(bits)")
        }
        var rng = SeededRandom(seed: 11)
        for _ in 0..<100_000 {
            let v = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            if v.isNaN { XCTAssertTrue(HalfFloat.float(fromHalfBits: HalfFloat.halfBits(from: v)).isNaN); continue }
            XCTAssertEqual(HalfFloat.halfBits(from: v), Float16(v).bitPattern, "\(v)")
        }
        XCTAssertEqual(HalfFloat.bfloat16Bits(from: 1.00390625), 0x3F80)       // tie -> even
        XCTAssertEqual(HalfFloat.bfloat16Bits(from: 1.01171875), 0x3F82)       // tie -> even (up)
        XCTAssertTrue(HalfFloat.float(fromBFloat16Bits: HalfFloat.bfloat16Bits(from: .nan)).isNaN)
        XCTAssertEqual(HalfFloat.float(fromBFloat16Bits: HalfFloat.bfloat16Bits(from: .infinity)), .infinity)
    }

    // MARK: malformed files

    func header(_ json: String, data: [UInt8] = [], declared: UInt64? = nil) -> Data {
        var d = Data()
        var n = (declared ?? UInt64(json.utf8.count)).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array(json.utf8))
        d.append(contentsOf: data)
        return d
    }

    func assertRejects(_ data: Data, _ check: (EngineError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile(data: data, source: "t")) { error in
            guard let e = error as? EngineError else { return XCTFail("not an EngineError: \(error)", file: file, line: line) }
            XCTAssertTrue(check(e), "unexpected \(e)", file: file, line: line)
            XCTAssertEqual(e.exitCode, 65, file: file, line: line)
        }
    }

    func testMalformedFilesAreRejectedWithTypedErrors() {
        let eight = [UInt8](repeating: 0, count: 8)
        assertRejects(Data([1, 2, 3])) { if case .truncatedSafetensors = $0 { return true }; return false }
        assertRejects(header("{}", declared: 1 << 40)) { if case .safetensorsHeaderTooLarge = $0 { return true }; return false }
        assertRejects(header("{}", declared: 500)) { if case .truncatedSafetensors = $0 { return true }; return false }
        assertRejects(header("{\"a\":")) { if case .malformedSafetensorsHeader = $0 { return true }; return false }
        assertRejects(header("[1, 2]")) { if case .malformedSafetensorsHeader = $0 { return true }; return false }
        assertRejects(header("{\"__metadata__\":{\"a\":1}}")) { if case .malformedSafetensorsHeader = $0 { return true }; return false }
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", data: eight)) {
            $0 == .malformedTensorEntry(source: "t", name: "w", reason: "data_offsets [0, 16] lie outside the 8-byte data buffer") }
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data: eight)) {
            if case .malformedTensorEntry(_, "w", _) = $0 { return true }; return false }
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data: eight)) {
            if case .malformedTensorEntry(_, "w", _) = $0 { return true }; return false }
        assertRejects(header("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: eight)) {
            if case .malformedTensorEntry(_, "w", _) = $0 { return true }; return false }
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", data: eight)) {
            if case .malformedTensorEntry(_, "w", _) = $0 { return true }; return false }
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", data: eight)) {
            if case .malformedTensorEntry(_, "w", _) = $0 { return true }; return false }
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", data: eight)) {
            if case .malformedTensorEntry(_, "w", _) = $0 { return true }; return false }
        assertRejects(header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}", data: eight)) {
            if case .malformedTensorEntry(_, _, let reason) = $0 { return reason.contains("overlaps") }; return false }
        assertRejects(header("{\"w\":5}")) { if case .malformedTensorEntry(_, "w", _) = $0 { return true }; return false }
    }

    func testMissingFileIsAnInputError() {
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/x.safetensors"))) {
            XCTAssertEqual(($0 as? EngineError)?.exitCode, 66) }
    }
}
