// Errors of the text encoder: missing or malformed model files. Each case is a sentence a user can act on.
import Foundation
import HVCore

public enum TextError: ToolReportable {
    case missingFile(path: String, what: String)
    case badVocabulary(path: String, reason: String)
    case badWeights(path: String, reason: String)
    case badConfig(path: String, reason: String)
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, what):
            return "text encoder \(what) '\(path)' not found; fetch the model with 'make text-encoder' (scripts/fetch-text-encoder.sh)"
        case let .badVocabulary(path, reason): return "vocabulary '\(path)' is unusable: \(reason)"
        case let .badWeights(path, reason): return "text encoder weights '\(path)' are unusable: \(reason)"
        case let .badConfig(path, reason): return "text encoder config '\(path)' is unusable: \(reason)"
        case let .unreadable(path, reason): return "cannot read '\(path)': \(reason)"
        case let .unwritable(path, reason): return "cannot write the caption-state cache '\(path)': \(reason)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .missingFile: return SysExit.noInput
        case .badVocabulary, .badWeights, .badConfig: return SysExit.dataError
        case .unreadable, .unwritable: return SysExit.ioError
        }
    }
}
