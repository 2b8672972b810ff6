// Where a shipped model folder (models/tokenizer, models/generator, models/text-encoder) is when no option names
// one: in the current folder, else in the first parent of the executable's folder that holds it, so that every
// tool finds the repository's models the same way whether it runs from the checkout or from .build/release.
import Foundation

public enum ShippedModels {
    /// `relative` under the current folder or under an ancestor of the executable, judged by `marker` (a file the
    /// folder must hold); `relative` itself when neither has it (the tool's error then names that path).
    public static func locate(_ relative: String, marker: String = "config.json") -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: relative + "/" + marker) { return relative }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        }
        while url.path != "/" {
            let candidate = url.appendingPathComponent(relative).path
            if fm.fileExists(atPath: candidate + "/" + marker) { return candidate }
            url.deleteLastPathComponent()
        }
        return relative
    }
}
