import SwiftCNN

// MARK: - Versions

/// The version of the C ABI this library implements. Include/swiftcnn.h defines the
/// same number as SCNN_ABI_VERSION (scripts/gen_header.py reads it from here). It grows
/// only when an existing function changes; adding functions keeps it.
let abiVersion: Int32 = 1

/// The library's version, "MAJOR.MINOR.PATCH". The string is static; never free it.
@c(scnn_version)
public func scnnVersion() -> UnsafePointer<CChar> {
    cString(SwiftCNNLibrary.version)
}

/// The ABI version this library implements. A host that loads the library at run time
/// (dlopen) compares it with the SCNN_ABI_VERSION it was compiled against and refuses
/// to go on when they differ.
@c(scnn_abi_version)
public func scnnABIVersion() -> Int32 {
    abiVersion
}
