// Errors of the text-to-video generator: configurations, checkpoints, prompts and token data that cannot be
// used. Each case is a sentence a user can act on, mapped to a sysexits code.
import HVCore

public enum GenError: ToolReportable, Equatable {
    case badConfig(reason: String)
    case missingCheckpoint(path: String)
    case badCheckpoint(path: String, reason: String)
    case emptyPrompt
    case promptTooLong(bytes: Int, limit: Int)
    case promptNotUTF8
    case badTokens(reason: String)
    case layerMismatch(reason: String)
    case badOption(reason: String)
    case badCaptions(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badConfig(r): return "generator configuration is unusable: \(r)"
        case let .missingCheckpoint(p):
            return "generator checkpoint '\(p)' not found; train one with 'hv-train lm' or pass --model DIR"
        case let .badCheckpoint(p, r): return "generator checkpoint '\(p)' is unusable: \(r)"
        case .emptyPrompt: return "the prompt is empty; describe the video to generate, e.g. \"calm ocean waves at sunset\""
        case let .promptTooLong(b, l): return "the prompt is \(b) bytes long; the limit is \(l) bytes"
        case .promptNotUTF8: return "the prompt is not valid UTF-8 text"
        case let .badTokens(r): return "token data is unusable: \(r)"
        case let .layerMismatch(r): return "the generator and the token layers do not match: \(r)"
        case let .badOption(r): return r
        case let .badCaptions(p, r): return "caption file '\(p)' is unusable: \(r)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .missingCheckpoint: return SysExit.noInput
        case .emptyPrompt, .promptTooLong, .badOption: return SysExit.usage
        case .badConfig, .badCheckpoint, .badCaptions, .promptNotUTF8, .badTokens, .layerMismatch: return SysExit.dataError
        }
    }
}
