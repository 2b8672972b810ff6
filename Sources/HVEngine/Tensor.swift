// Tensor: a dense, owned, 64-byte-aligned Float32 buffer with a shape (row-major, last axis fastest).
// Video activations are channels-last `[T, H, W, C]`; a batch, where one is needed, is the outermost axis.
// Design (llm.c style): ops are `forward`/`backward` function pairs that write into caller-owned tensors;
// layers own their output and gradient tensors and reuse them across steps (`resize` keeps the storage
// when it is large enough), so a training step allocates nothing once shapes are stable.
import Foundation

public final class Tensor {
    public private(set) var shape: [Int]
    public private(set) var count: Int
    public private(set) var capacity: Int
    public private(set) var data: UnsafeMutablePointer<Float>

    /// A zero-filled tensor of the given shape.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.capacity = max(count, 1)
        self.data = Tensor.allocate(capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    /// A tensor holding `values` (row-major) with the given shape.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "values.count \(values.count) does not match shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { free(data) }

    private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride)
        guard rc == 0, let raw else { fatalError("Tensor: out of memory allocating \(n) floats") }
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    /// Changes the shape. Storage is kept when large enough; otherwise it is replaced.
    /// Contents are unspecified afterwards unless the element count is unchanged.
    public func resize(_ newShape: [Int]) {
        let n = newShape.reduce(1, *)
        if n > capacity {
            free(data)
            capacity = n
            data = Tensor.allocate(n)
            data.initialize(repeating: 0, count: n)
        }
        shape = newShape
        count = n
    }

    /// Reinterprets the shape; the element count must not change.
    public func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == count, "reshape \(shape) -> \(newShape) changes the element count")
        shape = newShape
    }

    public var rank: Int { shape.count }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    public func zero() { data.update(repeating: 0, count: count) }
    public func fill(_ v: Float) { data.update(repeating: v, count: count) }

    /// Copies `other`'s shape and contents into this tensor.
    public func copy(from other: Tensor) {
        resize(other.shape)
        data.update(from: other.data, count: count)
    }

    public func clone() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }
}

/// A trainable tensor with its gradient, under the name it has in checkpoints.
public final class Parameter {
    public let name: String
    public let value: Tensor
    public let grad: Tensor
    /// Whether AdamW applies weight decay (false for biases and norm gains, by convention).
    public var decays: Bool

    public init(_ name: String, shape: [Int], decays: Bool = true) {
        self.name = name
        self.value = Tensor(shape: shape)
        self.grad = Tensor(shape: shape)
        self.decays = decays
    }
}

/// Anything that owns parameters. Names are full checkpoint keys ("encoder.down.0.conv.weight").
public protocol ParameterOwner: AnyObject {
    var parameters: [Parameter] { get }
}

extension ParameterOwner {
    public func zeroGrad() { for p in parameters { p.grad.zero() } }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }
}

/// Deterministic random numbers (xoshiro256**), so that initialisation and sampling are reproducible.
public struct SeededRandom: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15
        func splitmix(_ z: inout UInt64) -> UInt64 {
            z = z &+ 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s = (splitmix(&z), splitmix(&z), splitmix(&z), splitmix(&z))
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

extension Tensor {
    /// Fills with N(0, std²) from `rng`.
    public func randomNormal(std: Float, rng: inout SeededRandom) {
        for i in 0..<count { data[i] = rng.normal() * std }
    }
}
