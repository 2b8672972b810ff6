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
