// Constants of the .hvt layout (formats/hvt.md), and the field names the document uses, which a test
// keeps in step with the document.

public enum HVTLayout {
    public static let magic: [UInt8] = [0x89, 0x48, 0x56, 0x54, 0x0D, 0x0A, 0x1A, 0x0A]
    public static let versionMajor: UInt16 = 1
    /// 1.1 added the header's mask record; a writer marks a file 1.1 only when its header carries one, so an
    /// unmasked file stays a 1.0 file, byte for byte.
    public static let versionMinor: UInt16 = 1

    public static let headerType = "HVTH"
    public static let clipType = "CLIP"
    public static let endType = "HEND"

    public static let maxPayload = 64 << 20
    public static let maxSection = 64 << 20
    public static let maxLayers = 16
    public static let maxBits = 20
    public static let maxGridSide = 4096
    public static let maxTokensPerLayer = 1 << 24
    /// All layers of one clip together: what a reader holds for a clip.
    public static let maxTokensPerClip = 1 << 24
    /// Frame width and height (the y4m reader's limit).
    public static let maxFrameSide = 16384
    public static let maxNameBytes = 255
    public static let maxSourceBytes = 4096
}
