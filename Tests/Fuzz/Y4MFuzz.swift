// libFuzzer entry for the y4m reader (make fuzz-y4m), fed through an in-memory file descriptor.
import Glibc

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzY4M(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let fd = memfd_create("y4m", 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    _ = write(fd, data, size)
    lseek(fd, 0, SEEK_SET)
    guard let reader = try? Y4MReader(fileDescriptor: fd, name: "fuzz") else { return 0 }
    // Guard against huge declared frames on tiny inputs: the reader allocates one frame buffer.
    var n = 0
    while n < 100, let f = try? reader.nextFrame() { _ = f.width; n += 1 }
    return 0
}
