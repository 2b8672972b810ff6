// --model of the tools that run the tokenizer (hv-encode, hv-render, hv-metrics, hv-bench): one definition, so
// the option reads and defaults alike everywhere. The folder is resolved by TokenizerCheckpoint.resolve (the
// shipped models/tokenizer, found like every shipped model: HVCore/ShippedModels.swift).
import ArgumentParser

public struct TokenizerModelOption: ParsableArguments {
    @Option(name: .customLong("model"), help: "Tokenizer checkpoint folder (default: the shipped models/tokenizer).")
    public var path: String?

    public init() {}
}
