// A tokenizer's identity: its config name and the SHA-256 of its checkpoint (config.json followed by
// model.safetensors). One type for the .hvt header, the tokenizer checkpoints (`tokens_of`) and the generator's
// record of the tokens it was trained on; printed short as name@12-hex, recorded whole as name@64-hex.
public struct TokenizerIdentity: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var hash: String
    public var description: String { "\(name)@\(hash.prefix(12))" }
    /// `name@sha256` with the whole hash (the form checkpoints record).
    public var full: String { "\(name)@\(hash)" }

    public init(name: String, hash: String) { self.name = name; self.hash = hash }

    /// Parses the `full` form; nil unless it is a name, "@" and 64 lowercase hex digits.
    public init?(full: String) {
        guard let at = full.lastIndex(of: "@") else { return nil }
        let n = String(full[..<at]), h = String(full[full.index(after: at)...])
        guard !n.isEmpty, h.count == 64, h.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else { return nil }
        name = n; hash = h
    }
}
