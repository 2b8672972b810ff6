// The common entry point of every hv-* tool: argument parsing and the error contract (`hv-x: error: <sentence>`
// on stderr, sysexits exit code; data never goes to stderr). Tools that compute with OpenBLAS pass its kernel
// check as `prepare`; the others (hv-decode, hv-info, hv-mask) do not link it.
import ArgumentParser
import Foundation
import HVCore

extension ParsableCommand {
    /// Runs the command as the tool `name`. Call it from the tool's `static func main()`.
    public static func hvMain(_ name: String, prepare: () -> Void = {}) {
        prepare()
        signal(SIGPIPE, SIG_IGN)  // a closed pipe is reported as an I/O error (exit 74), not a silent kill
        do {
            var command = try parseAsRoot()
            try command.run()
            exitFlushingStdout(name, SysExit.ok)
        } catch let error as ToolReportable {
            Console.error(name, error.description)
            Glibc.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error).rawValue
            if code == 0 {
                // --help, --version: requested output goes to stdout.
                print(fullMessage(for: error))
                exitFlushingStdout(name, SysExit.ok)
            }
            let message = oneLine(self.message(for: error))
            Console.error(name, message.isEmpty ? "\(error)" : message)
            FileHandle.standardError.write(Data((usageString(for: error) + "\n").utf8))
            Glibc.exit(code == 1 ? SysExit.software : code)
        }
    }

    /// Text on stdout goes through stdio's buffer, whose write errors exit() would drop: a full disk, /dev/full
    /// or a closed pipe ends the run as every other failed write does (exit 74, one line), not with exit 0.
    private static func exitFlushingStdout(_ name: String, _ code: Int32) -> Never {
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            let reason = errno != 0 ? String(cString: strerror(errno)) : "stream error"
            Console.error(name, "write to 'stdout' failed: \(reason)")
            Glibc.exit(SysExit.ioError)
        }
        Glibc.exit(code)
    }

    /// argument-parser lists a long set of choices on lines of their own ("one of the following:" then "- x"
    /// lines); the error contract is one line, so they are joined into it.
    static func oneLine(_ message: String) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, first.hasSuffix("one of the following:") else { return message }
        let values = lines.dropFirst().filter { $0.hasPrefix("- ") }.map { "'\($0.dropFirst(2))'" }
        guard let last = values.last else { return message }
        let list = values.count == 1 ? last : values.dropLast().joined(separator: ", ") + " or " + last
        return first.dropLast("the following:".count) + list + "."
    }

    private static func usageString(for error: Error) -> String {
        let full = fullMessage(for: error)
        return full.split(separator: "\n").filter { $0.contains("Usage:") || $0.contains("--help") }.joined(separator: "\n")
    }
}

/// Diagnostics: stderr only; progress only when stderr is a terminal (or when forced).
public enum Console {
    public static func error(_ tool: String, _ message: String) {
        let line = message.split(separator: "\n").first.map(String.init) ?? message
        FileHandle.standardError.write(Data("\(tool): error: \(line)\n".utf8))
    }

    public static func warning(_ tool: String, _ message: String) {
        FileHandle.standardError.write(Data("\(tool): warning: \(message)\n".utf8))
    }

    public static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    public static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
    public static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
}

/// A single-line progress display on a terminal's stderr; silent when stderr is not a terminal.
public final class Progress {
    private let enabled: Bool
    private let label: String
    private var lastDraw = 0.0
    private let start = Date()

    public init(_ label: String, force: Bool = false) {
        self.label = label
        self.enabled = force || Console.stderrIsTerminal
    }

    public func update(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        let now = Date().timeIntervalSince1970
        if now - lastDraw < 0.1 { return }
        lastDraw = now
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label): \(text())".utf8))
    }

    public var elapsed: Double { Date().timeIntervalSince(start) }

    public func finish(_ text: String = "") {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label): \(text)\n".utf8))
    }
}
