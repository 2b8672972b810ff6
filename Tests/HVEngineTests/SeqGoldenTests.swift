import XCTest
@testable import HVEngine

/// Against PyTorch CPU (float64 math, stored F32) from Golden/make_golden_seq.py. Tolerance: 1e-5 relative
/// to the larger of 1 and the reference's max magnitude (our Float32 arithmetic vs torch float64).
final class SeqGoldenTests: XCTestCase {
    func check(_ a: Tensor, _ file: SafeTensorsFile, _ name: String, tol: Float = 1e-5, line: UInt = #line) throws {
        let ref = try file.tensor(name)
        XCTAssertEqual(a.count, ref.count, name, line: line)
        XCTAssertLessThan(SeqGolden.maxRelativeError(a.array, ref.array), tol, name, line: line)
    }

    func testAttentionMatchesTorchSDPA() throws {
        let f = try SeqGolden.file("seq_attention.safetensors")
        let q = try f.tensor("q"), k = try f.tensor("k"), v = try f.tensor("v")
        let attn = MultiHeadAttention(heads: q.shape[2], headDim: q.shape[3], blockSize: 3)
        try check(attn.forward(q: q, k: k, v: v), f, "o")
        let g = attn.backward(try f.tensor("dy"))
        try check(g.dq, f, "dq"); try check(g.dk, f, "dk"); try check(g.dv, f, "dv")
    }

    func testNormsMatchTorch() throws {
        let f = try SeqGolden.file("seq_norms.safetensors")
        let x = try f.tensor("layernorm.x")
        let ln = LayerNorm(name: "ln", dim: x.shape[1], eps: 1e-5)
        try f.read("layernorm.w", into: ln.weight.value); try f.read("layernorm.b", into: ln.bias.value)
        try check(ln.forward(x), f, "layernorm.y")
        try check(ln.backward(try f.tensor("layernorm.dy")), f, "layernorm.dx")
        try check(ln.weight.grad, f, "layernorm.dw"); try check(ln.bias.grad, f, "layernorm.db")
        let xr = try f.tensor("rmsnorm.x")
        let rms = RMSNorm(name: "rms", dim: xr.shape[1], eps: 1e-6)
        try f.read("rmsnorm.w", into: rms.weight.value)
        try check(rms.forward(xr), f, "rmsnorm.y")
        try check(rms.backward(try f.tensor("rmsnorm.dy")), f, "rmsnorm.dx")
        try check(rms.weight.grad, f, "rmsnorm.dw")
    }

    func testRoPEMatchesTorchReference() throws {
        let f = try SeqGolden.file("seq_rope.safetensors")
        for (prefix, axes) in [("rope1d", 1), ("rope3d", 3)] {
            let x = try f.tensor("\(prefix).x")
            let rope = RoPE(headDim: x.shape[2], axes: axes)
            rope.setPositions(try f.tensor("\(prefix).pos").array.map { Int($0) }, count: x.shape[0])
            rope.forward(x)
            try check(x, f, "\(prefix).y")
            let dy = try f.tensor("\(prefix).dy")
            rope.backward(dy)
            try check(dy, f, "\(prefix).dx")
        }
    }

    func testCrossEntropyMatchesTorch() throws {
        let f = try SeqGolden.file("seq_crossentropy.safetensors")
        let logits = try f.tensor("logits")
        let ce = CrossEntropyLoss()
        let loss = try ce.forward(logits, targets: try f.tensor("targets").array.map { Int32($0) }, weights: try f.tensor("weights").array)
        XCTAssertEqual(loss, try f.tensor("loss")[0], accuracy: 1e-5)
        try check(ce.gradLogits, f, "dlogits")
    }
}
