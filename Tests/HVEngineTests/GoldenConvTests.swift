// Conv3d, GroupNorm and activations forward AND backward against PyTorch CPU golden tensors
// (Golden/make_golden_conv.py, float64 math in torch; the causal padding is written there in torch terms). Tolerances: 1e-4 absolute + 1e-4 relative for
// conv (Float32 sums of ≤ 162 products), 1e-4 + 1e-3 relative for GroupNorm and activations.
import Foundation
import XCTest
@testable import HVEngine

final class GoldenConvTests: XCTestCase {
    private struct Case { let params: [String: Any]; let tensors: [String: Tensor] }

    private static let folder: URL = {
        if let url = Bundle.module.url(forResource: "Golden", withExtension: nil) { return url.appendingPathComponent("conv") }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/conv")
    }()

    private func load(_ name: String) throws -> Case {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.folder.appendingPathComponent("index.json")))
        guard let entry = (index as? [String: Any])?[name] as? [String: Any],
              let shapes = entry["tensors"] as? [String: [Int]] else {
            // A missing case is a failure, not a skip: the comparison it stands for would silently stop.
            struct Missing: Error, CustomStringConvertible { let description: String }
            throw Missing(description: "golden case \(name) is missing from Golden/conv/index.json (make_golden_conv.py)")
        }
        var tensors: [String: Tensor] = [:]
        for (key, shape) in shapes {
            let data = try Data(contentsOf: Self.folder.appendingPathComponent("\(name).\(key).f32"))
            let t = Tensor(shape: shape)
            XCTAssertEqual(data.count, t.count * 4, "\(name).\(key) size")
            data.withUnsafeBytes { raw in
                for i in 0..<t.count { t[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            }
            tensors[key] = t
        }
        return Case(params: entry["params"] as? [String: Any] ?? [:], tensors: tensors)
    }

    func testConv3dMatchesTorch() throws {
        let cases = ["conv_k333_s111_replicate", "conv_k333_s222_zero", "conv_k333_s122_replicate",
                     "conv_k133_s111_replicate", "conv_k311_s211_replicate", "conv_k111_s111_zero"]
        for name in cases {
            let c = try load(name)
            let k = c.params["kernel"] as! [Int], s = c.params["stride"] as! [Int]
            var rng = SeededRandom(seed: 0)
            let conv = Conv3d(name: name, inChannels: c.tensors["x"]!.shape[3], outChannels: c.tensors["bias"]!.count,
                              kernel: (k[0], k[1], k[2]), stride: (s[0], s[1], s[2]),
                              temporalPadding: (c.params["padding"] as! String) == "zero" ? .zero : .replicate, rng: &rng)
            conv.weight.value.copy(from: c.tensors["weight"]!)
            conv.bias!.value.copy(from: c.tensors["bias"]!)
            goldenClose(conv.forward(c.tensors["x"]!), c.tensors["y"]!, atol: 1e-4, rtol: 1e-4, "\(name) y")
            goldenClose(conv.backward(c.tensors["dy"]!), c.tensors["dx"]!, atol: 1e-4, rtol: 1e-4, "\(name) dx")
            goldenClose(conv.weight.grad, c.tensors["dweight"]!, atol: 1e-4, rtol: 1e-4, "\(name) dweight")
            goldenClose(conv.bias!.grad, c.tensors["dbias"]!, atol: 1e-4, rtol: 1e-4, "\(name) dbias")
        }
    }

    func testGroupNormMatchesTorch() throws {
        for name in ["groupnorm_perframe", "groupnorm_allframes"] {
            let c = try load(name)
            let x = c.tensors["x"]!
            let gn = GroupNorm(name: name, channels: x.shape[3], groups: c.params["groups"] as! Int, eps: 1e-6,
                               statistics: (c.params["statistics"] as! String) == "perFrame" ? .perFrame : .overAllFrames)
            gn.weight.value.copy(from: c.tensors["gain"]!)
            gn.bias.value.copy(from: c.tensors["bias"]!)
            goldenClose(gn.forward(x), c.tensors["y"]!, atol: 1e-4, rtol: 1e-3, "\(name) y")
            goldenClose(gn.backward(c.tensors["dy"]!), c.tensors["dx"]!, atol: 1e-4, rtol: 1e-3, "\(name) dx")
            goldenClose(gn.weight.grad, c.tensors["dgain"]!, atol: 1e-4, rtol: 1e-3, "\(name) dgain")
            goldenClose(gn.bias.grad, c.tensors["dbias"]!, atol: 1e-4, rtol: 1e-3, "\(name) dbias")
        }
    }

    func testActivationsMatchTorch() throws {
        let layers: [(String, ElementwiseLayer)] = [("gelu_exact", GELU()), ("gelu_tanh", GELU(approximation: .tanh)),
                                                   ("silu", SiLU()), ("sigmoid", Sigmoid())]
        for (name, layer) in layers {
            let c = try load(name)
            goldenClose(layer.forward(c.tensors["x"]!), c.tensors["y"]!, atol: 1e-5, rtol: 1e-5, "\(name) y")
            goldenClose(layer.backward(c.tensors["dy"]!), c.tensors["dx"]!, atol: 1e-5, rtol: 1e-4, "\(name) dx")
        }
    }
}

/// |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst element.
private func goldenClose(_ a: Tensor, _ b: Tensor, atol: Float, rtol: Float, _ what: String,
                         file: StaticString = #filePath, line: UInt = #line) {
    guard a.count == b.count else { return XCTFail("\(what): \(a.count) vs \(b.count) elements", file: file, line: line) }
    var worst = 0, excess: Float = -.infinity
    for i in 0..<a.count {
        let e = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
        if e > excess { excess = e; worst = i }
    }
    XCTAssert(excess <= 0, "\(what): element \(worst) is \(a[worst]), golden \(b[worst])", file: file, line: line)
}
