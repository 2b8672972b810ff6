// The --layers value of every tool (hv-render, hv-mask, hv-gen, hv-train lm): token layer numbers separated by
// commas, 0 the densest. One parser, so "3, 2", "3,2,2" and "-1" mean the same thing, or fail the same way
// (exit 64), wherever they are given; whether the layers exist is the tool's check against its file or model.
import ArgumentParser

public struct LayerList: ExpressibleByArgument, Equatable, Sendable, CustomStringConvertible {
    /// The layers in the order given, each once.
    public let layers: [Int]

    public init(_ layers: [Int]) { self.layers = layers }

    public init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        let values = parts.map { $0! }
        guard Set(values).count == values.count else { return nil }
        layers = values
    }

    public var description: String { layers.map(String.init).joined(separator: ",") }
    public var defaultValueDescription: String { description }
}
