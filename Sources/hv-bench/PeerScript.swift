// The peers that `hv-bench` compares against (PyTorch, scikit-image) are Python scripts in bench/ that print
// their measurements on stdout and exit 3 when their library is not installed. One runner for all of them.
import Foundation

enum PeerScript {
    /// Why a peer gave no numbers; printed in the caller's SKIPPED line.
    struct Skipped: Error { let reason: String }

    /// Runs `python3 script args…` and returns its stdout lines (stderr is discarded).
    static func lines(_ script: String, _ args: [String]) -> Result<[String], Skipped> {
        guard FileManager.default.fileExists(atPath: script) else {
            return .failure(Skipped(reason: "peer script \(script) not found (run from the package root or pass --peers)"))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return .failure(Skipped(reason: "cannot run python3 (\(error))")) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        switch p.terminationStatus {
        case 0: return .success(String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
        case 3: return .failure(Skipped(reason: "PyTorch is not installed (pip install torch==2.13.0+cpu to compare)"))
        default: return .failure(Skipped(reason: "the peer failed (exit \(p.terminationStatus))"))
        }
    }

    /// Runs the script and parses its last stdout line as a JSON object.
    static func json(_ script: String, _ args: [String]) -> Result<[String: Any], Skipped> {
        lines(script, args).flatMap { lines in
            guard let last = lines.last,
                  let obj = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else {
                return .failure(Skipped(reason: "the peer printed no JSON result"))
            }
            return .success(obj)
        }
    }
}

/// A peer that stays up and answers one request a line (`peer_conv.py --serve`), so that hv-bench can alternate
/// the peer's calls with its own on the same shape: two timings taken minutes apart on a shared VM differ by more
/// than the ratios they are meant to show.
final class PeerServer {
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffer: [UInt8] = []

    /// Starts `python3 script args…` and waits for its "READY" line; fails with the peer's reason otherwise.
    init(_ script: String, _ args: [String]) throws {
        guard FileManager.default.fileExists(atPath: script) else {
            throw PeerScript.Skipped(reason: "peer script \(script) not found (run from the package root or pass --peers)")
        }
        signal(SIGPIPE, SIG_IGN)    // a peer that died answers the next write with EPIPE, not by killing hv-bench
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + args
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw PeerScript.Skipped(reason: "cannot run python3 (\(error))") }
        guard let first = readLine() else { throw PeerScript.Skipped(reason: "the peer failed (exit \(finish()))") }
        guard first == "READY" else {
            _ = finish()
            throw PeerScript.Skipped(reason: first.hasPrefix("SKIP") ? "PyTorch is not installed (pip install torch==2.13.0+cpu to compare)"
                                                                     : "the peer said '\(first)'")
        }
    }

    /// Sends one request line and returns the peer's answer, or nil when the peer has gone.
    func ask(_ line: String) -> String? {
        do { try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8)) } catch { return nil }
        return readLine()
    }

    private func readLine() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let chunk = output.fileHandleForReading.availableData    // blocks until data or end of file
            if chunk.isEmpty { return nil }
            buffer.append(contentsOf: chunk)
        }
    }

    /// Closes the peer's input (it exits at end of file) and returns its exit status.
    @discardableResult
    func finish() -> Int32 {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { _ = finish() } }
}
