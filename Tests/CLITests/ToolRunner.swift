import Foundation
import XCTest

/// Runs the built hv-* tools (they sit next to the test bundle) and captures stdout, stderr and status.
struct ToolResult {
    var status: Int32
    var stdout: Data
    var stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

enum Tools {
    static var binDir: URL = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("hv-info").path) { return url }
        }
        return URL(fileURLWithPath: ".build/debug")
    }()

    @discardableResult
    static func run(_ tool: String, _ args: [String], stdin: Data? = nil, stdinFile: String? = nil, cwd: String? = nil,
                    stdoutFile: String? = nil) throws -> ToolResult {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(tool)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        if let stdoutFile {
            guard let h = FileHandle(forWritingAtPath: stdoutFile) else { throw CocoaError(.fileNoSuchFile) }
            p.standardOutput = h
            try? out.fileHandleForWriting.close()
        }
        var inp: Pipe?
        if let stdinFile { p.standardInput = FileHandle(forReadingAtPath: stdinFile) }
        else if stdin != nil { inp = Pipe(); p.standardInput = inp }
        try p.run()
        // stdin is written, and stdout and stderr drained, all at once: a tool that fills one pipe while the
        // runner waits on another would block both. Each worker owns its box until the group is done.
        final class Box: @unchecked Sendable { var data = Data() }
        let o = Box(), e = Box()
        let group = DispatchGroup()
        if let inp, let stdin {
            group.enter()
            DispatchQueue.global().async {
                // A tool that exits without reading all of stdin closes the pipe: SIGPIPE is ignored here, so the
                // write fails with EPIPE instead of killing the test process.
                signal(SIGPIPE, SIG_IGN)
                try? inp.fileHandleForWriting.write(contentsOf: stdin)
                try? inp.fileHandleForWriting.close()
                group.leave()
            }
        }
        group.enter(); DispatchQueue.global().async { o.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { e.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.wait(); p.waitUntilExit()
        return ToolResult(status: p.terminationStatus, stdout: o.data, stderr: String(decoding: e.data, as: UTF8.self))
    }

    static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "hvcli-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func sh(_ cmd: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        return p.terminationStatus
    }
}
