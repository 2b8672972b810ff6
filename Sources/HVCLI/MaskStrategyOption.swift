// A mask strategy as an option value (hv-mask --strategy, hv-encode --mask-strategy): the file's own names.
import ArgumentParser
import HVFormat

/// The file's own names for the fills (`none` is no fill, so not a choice here).
extension MaskStrategy: ExpressibleByArgument {
    public init?(argument: String) {
        guard let s = MaskStrategy(name: argument), s != .none else { return nil }
        self = s
    }

    public static var allValueStrings: [String] { [repeatPrevious, zero, learned].map(\.description) }
    public var defaultValueDescription: String { description }
}
