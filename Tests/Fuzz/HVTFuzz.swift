// libFuzzer entry for the .hvt reader (make fuzz-hvt): any bytes must give clips or a thrown error,
// never a crash, hang or unbounded allocation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHVT(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let reader = try? HVTReader(bytes: bytes, name: "fuzz") else { return 0 }
    var n = 0
    while n < 1000, let clip = try? reader.nextClip() { _ = clip.layers.count; n += 1 }
    return 0
}
