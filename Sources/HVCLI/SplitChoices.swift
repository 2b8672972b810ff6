// The manifest's split options as the parser's own choices (hv-manifest list, claim and export; hv-train
// tokenizer --manifest): a bad value is refused by argument-parser, exit 64, and --help lists the values.
import ArgumentParser

/// One split of the manifest (`clip.split`): `--split train` or `--split val`.
public enum ClipSplit: String, ExpressibleByArgument, CaseIterable, Sendable {
    case train, val
}

/// A split or all of them: `--split train`, `val` or `all`.
public enum SplitSelection: String, ExpressibleByArgument, CaseIterable, Sendable {
    case train, val, all

    /// The manifest's split name, nil for every split.
    public var split: String? { self == .all ? nil : rawValue }
}
