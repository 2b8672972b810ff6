// safetensors reader/writer: round trips in the three storable dtypes, strict loading, files written by
// Python's safetensors (Golden/seq_python_mixed*.safetensors, incl. an I64 buffer), F16/BF16 rounding
// against PyTorch (Golden/seq_rounding.safetensors) and malformed headers. Ported from engine-seq to the
// engine's SafeTensors API.
import XCTest
@testable import HVEngine

final class SafeTensorsTests: XCTestCase {
    func tmp(_ name: String) -> String { FileManager.default.temporaryDirectory.appendingPathComponent("hvst-\(getpid())-\(name)").path }

    func testRoundTripEachStorableDTypeWithMetadata() throws {
        var rng = SeededRandom(seed: 5)
        let a = Tensor(shape: [3, 4]); a.randomNormal(std: 2, rng: &rng)
        let c = Tensor(shape: [2, 1, 3]); c.randomNormal(std: 1e-3, rng: &rng)
        let e = Tensor(shape: [0, 7])
        for dtype in [SafeTensorsDType.f32, .f16, .bf16] {
            let data = try SafeTensors.encode([("zeta", a), ("alpha", c), ("empty", e)], dtype: dtype, metadata: ["format": "pt", "x\\y": "1\n2"])
            let headerLen = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            XCTAssertEqual(headerLen % 8, 0)
            let f = try SafeTensorsFile(path: "mem", data: data)
            XCTAssertEqual(f.metadata, ["format": "pt", "x\\y": "1\n2"])
            XCTAssertEqual(f.entries.keys.sorted(), ["alpha", "empty", "zeta"])
            XCTAssertEqual(f.entries["zeta"]?.dtype, dtype)
            let round: (Float) -> Float
            switch dtype {
            case .f32: round = { $0 }
            case .f16: round = { Float(Float16($0)) }
            case .bf16: round = { Half.bf16ToFloat(Half.floatToBF16($0)) }
            }
            XCTAssertEqual(try f.tensor("zeta").array, a.array.map(round), "\(dtype)")
            XCTAssertEqual(try f.tensor("alpha").shape, [2, 1, 3])
            XCTAssertEqual(try f.tensor("empty").shape, [0, 7])
            for (x, y) in zip(try f.tensor("alpha").array, c.array) { XCTAssertEqual(x, y, accuracy: abs(y) / 128) }
        }
    }

    func testStrictParameterLoad() throws {
        let p1 = Parameter("layer.weight", shape: [2, 3]), p2 = Parameter("layer.bias", shape: [2])
        for i in 0..<6 { p1.value[i] = Float(i) }
        p2.value[1] = 7
        let path = tmp("strict.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.save([(p1.name, p1.value), (p2.name, p2.value)], metadata: ["k": "v"], to: path)
        let q1 = Parameter("layer.weight", shape: [2, 3]), q2 = Parameter("layer.bias", shape: [2])
        let file = try SafeTensors.load(path: path)
        try file.loadStrict(into: [q1, q2])
        XCTAssertEqual(q1.value.array, p1.value.array)
        XCTAssertEqual(q2.value.array, [0, 7])

        XCTAssertThrowsError(try file.loadStrict(into: [q1])) {
            XCTAssertEqual($0 as? EngineError, .unexpectedTensor(name: "layer.bias")) }
        XCTAssertThrowsError(try file.loadStrict(into: [q1, q2, Parameter("other", shape: [1])])) {
            XCTAssertEqual($0 as? EngineError, .missingTensor(name: "other")) }
        let wrong = Parameter("layer.weight", shape: [3, 2])
        XCTAssertThrowsError(try file.loadStrict(into: [wrong, q2])) {
            XCTAssertEqual($0 as? EngineError, .shapeMismatch(name: "layer.weight", expected: [3, 2], found: [2, 3]))
            XCTAssertEqual(($0 as? EngineError)?.exitCode, 65)
            XCTAssertTrue("\($0)".contains("layer.weight"))
        }
    }

    func testReadsFilesWrittenByPythonSafetensors() throws {
        let url = SeqGolden.url("seq_python_mixed.safetensors")
        // By default a non-float tensor (BERT's I64 position_ids) rejects the file with a typed error.
        XCTAssertThrowsError(try SafeTensors.load(path: url.path)) {
            XCTAssertEqual($0 as? EngineError, .dtypeMismatch(name: "embeddings.position_ids", found: "I64"))
            XCTAssertEqual(($0 as? EngineError)?.exitCode, 65)
        }
        let f = try SafeTensors.load(path: url.path, skippingOtherDTypes: true)
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
        XCTAssertEqual(f.skipped, ["embeddings.position_ids": "I64"])
        XCTAssertThrowsError(try f.tensor("embeddings.position_ids")) {
            XCTAssertEqual($0 as? EngineError, .missingTensor(name: "embeddings.position_ids")) }
        XCTAssertEqual(try f.allTensors().keys.sorted(), ["a.f32", "b.f16", "c.bf16", "empty"])
    }

    func testHalfAndBFloat16RoundingMatchesTorch() throws {
        let f = try SeqGolden.file("seq_rounding.safetensors")
        let values = try f.tensor("values").array
        XCTAssertEqual(values.map { Half.f16ToFloat(Half.floatToF16($0)) }, try f.tensor("as_f16").array)
        XCTAssertEqual(values.map { Half.bf16ToFloat(Half.floatToBF16($0)) }, try f.tensor("as_bf16").array)
    }

    func testBFloat16TiesToEvenAndSpecialValues() {
        XCTAssertEqual(Half.floatToBF16(1.00390625), 0x3F80)       // tie -> even
        XCTAssertEqual(Half.floatToBF16(1.01171875), 0x3F82)       // tie -> even (up)
        XCTAssertTrue(Half.bf16ToFloat(Half.floatToBF16(.nan)).isNaN)
        XCTAssertEqual(Half.bf16ToFloat(Half.floatToBF16(.infinity)), .infinity)
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

    func assertRejects(_ data: Data, saying: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile(path: "t", data: data)) { error in
            guard let e = error as? EngineError else { return XCTFail("not an EngineError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.exitCode, 65, file: file, line: line)
            if let saying { XCTAssertTrue("\(e)".contains(saying), "\(e)", file: file, line: line) }
        }
    }

    func testMalformedFilesAreRejectedWithTypedErrors() {
        let eight = [UInt8](repeating: 0, count: 8)
        assertRejects(Data([1, 2, 3]))
        assertRejects(header("{}", declared: 1 << 40))
        assertRejects(header("{}", declared: 500))
        assertRejects(header("{\"a\":"))
        assertRejects(header("[1, 2]"))
        assertRejects(header("{\"__metadata__\":{\"a\":1}}"))
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", data: eight))
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data: eight))
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data: eight))
        assertRejects(header("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: eight))
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", data: eight))
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", data: eight))
        assertRejects(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", data: eight))
        assertRejects(header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}", data: eight))
        assertRejects(header("{\"w\":5}"))
        // The same name twice (JSON parsers keep the last): refused, naming it; nested repeats are not keys.
        let entry = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
        assertRejects(header("{\"w\":\(entry), \"w\" :\(entry)}", data: eight), saying: "names 'w' twice")
        XCTAssertNil(SafeTensorsFile.repeatedTopLevelKey(Data("{\"a\":{\"x\":1},\"b\":{\"x\":\"a\\\"\"}}".utf8)))
    }

    /// A checkpoint whose weights went NaN loads no further (it would encode every clip to one code).
    func testNonFiniteWeightsAreRefused() throws {
        let p = Parameter("w", shape: [3])
        p.value[1] = .nan
        let path = tmp("nan.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.save([(p.name, p.value)], metadata: [:], to: path)
        XCTAssertThrowsError(try SafeTensors.load(path: path).loadStrict(into: [Parameter("w", shape: [3])])) {
            XCTAssertTrue("\($0)".contains("tensor 'w' holds NaN"), "\($0)")
            XCTAssertEqual(($0 as? EngineError)?.exitCode, 65)
        }
    }

    func testMissingFileIsATypedError() {
        XCTAssertThrowsError(try SafeTensors.load(path: "/nonexistent/x.safetensors")) {
            XCTAssertNotNil($0 as? EngineError) }
    }
}
