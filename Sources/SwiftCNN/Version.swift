/// The library's identity.
public enum SwiftCNNLibrary {
    /// The version, "MAJOR.MINOR.PATCH".
    public static let version: StaticString = "0.1.0"
}
