// libFuzzer entry for the y4m reader (make fuzz-y4m). Inputs are at most 4096 bytes (-max_len), which fit
// in a pipe's buffer, so the whole input is written, the write end closed, and the reader reads the pipe.
import Glibc

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzY4M(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var fds: [Int32] = [0, 0]
    guard size <= 4096, pipe(&fds) == 0 else { return 0 }
    _ = write(fds[1], data, size)
    close(fds[1])
    defer { close(fds[0]) }
    guard let reader = try? Y4MReader(fileDescriptor: fds[0], name: "fuzz") else { return 0 }
    var n = 0
    while n < 100, let f = try? reader.nextFrame() { _ = f.width; n += 1 }
    return 0
}
