// hv-train's named choices as the parser's own values: a bad name is refused by argument-parser (exit 64) and
// --help lists the names. The generator's presets are GeneratorConfig.Preset (shared with hv-bench).
import ArgumentParser
import HVEngine
import HVGen
import HVTokenizer

/// --preset of hv-train tokenizer: a name of `TokenizerConfig.presets`, the one list of tokenizer architectures.
struct TokenizerPreset: ExpressibleByArgument, CustomStringConvertible {
    let name: String
    var config: TokenizerConfig { TokenizerConfig.presets[name]! }
    var description: String { name }

    init(name: String) { precondition(TokenizerConfig.presets[name] != nil, "no preset \(name)"); self.name = name }

    init?(argument: String) {
        guard TokenizerConfig.presets[argument] != nil else { return nil }
        name = argument
    }

    static var allValueStrings: [String] { TokenizerConfig.presets.keys.sorted() }
}

/// --storage of hv-train tokenizer and export: the checkpoint's weight type.
enum WeightStorage: String, ExpressibleByArgument, CaseIterable {
    case f32, bf16
    var dtype: SafeTensorsDType { self == .bf16 ? .bf16 : .f32 }
}

/// --bf16 of hv-train tokenizer: whether training steps run their convs on AMX tiles in bfloat16.
enum ConvPrecision: String, ExpressibleByArgument, CaseIterable {
    /// bfloat16 where the CPU has AMX, float32 elsewhere.
    case auto
    /// bfloat16; refused where the CPU has no AMX.
    case on
    /// float32.
    case off
}

extension GeneratorConfig.Preset: ExpressibleByArgument {}
extension GeneratorConfig.TextCondition: ExpressibleByArgument {}
