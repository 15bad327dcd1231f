/// Checks that every value is at least 1.
private func requirePositive(_ op: String, _ values: [(String, Int)]) throws {
    for (name, v) in values where v < 1 {
        throw SwiftCNNError.invalidArgument("\(op): \(name) must be at least 1; got \(v)")
    }
}

/// Checks `groups` against the channel counts and returns the input channels per group.
private func channelsPerGroup(_ op: String, inChannels: Int, outChannels: Int, groups: Int) throws -> Int {
    guard inChannels % groups == 0 && outChannels % groups == 0 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): groups \(groups) must divide both inChannels \(inChannels) and outChannels \(outChannels)")
    }
    return inChannels / groups
}

/// The number of learnable parameters of a 2-D convolution:
/// outChannels · (inChannels/groups) · kernel.h · kernel.w weights, plus outChannels biases when `bias`.
/// E.g. a 3×3 convolution from 128 to 256 channels without bias has 294,912.
/// Errors: sizes below 1, groups not dividing both channel counts, overflow.
public func conv2dParameterCount(inChannels: Int, outChannels: Int, kernel: Size2D, groups: Int = 1, bias: Bool = true) throws -> Int {
    let op = "conv2dParameterCount"
    try requirePositive(op, [("inChannels", inChannels), ("outChannels", outChannels), ("kernel height", kernel.h),
                             ("kernel width", kernel.w), ("groups", groups)])
    let perGroup = try channelsPerGroup(op, inChannels: inChannels, outChannels: outChannels, groups: groups)
    let weights = try Checked.product([outChannels, perGroup, kernel.h, kernel.w], "\(op): weight count")
    return bias ? try Checked.add(weights, outChannels, "\(op): parameter count") : weights
}

/// The number of learnable parameters of a fully connected layer: inFeatures · outFeatures
/// weights, plus outFeatures biases when `bias`. Errors: sizes below 1, overflow.
public func linearParameterCount(inFeatures: Int, outFeatures: Int, bias: Bool = true) throws -> Int {
    let op = "linearParameterCount"
    try requirePositive(op, [("inFeatures", inFeatures), ("outFeatures", outFeatures)])
    let weights = try Checked.mul(inFeatures, outFeatures, "\(op): weight count")
    return bias ? try Checked.add(weights, outFeatures, "\(op): parameter count") : weights
}

/// Multiply-accumulate operations of a 2-D convolution for one image:
/// output.h · output.w · outChannels · (inChannels/groups) · kernel.h · kernel.w (bias additions not counted).
/// Errors: sizes below 1, groups not dividing both channel counts, overflow.
public func conv2dMACs(inChannels: Int, outChannels: Int, kernel: Size2D, groups: Int = 1, output: Size2D) throws -> Int {
    let op = "conv2dMACs"
    try requirePositive(op, [("inChannels", inChannels), ("outChannels", outChannels), ("kernel height", kernel.h),
                             ("kernel width", kernel.w), ("groups", groups), ("output height", output.h), ("output width", output.w)])
    let perGroup = try channelsPerGroup(op, inChannels: inChannels, outChannels: outChannels, groups: groups)
    return try Checked.product([output.h, output.w, outChannels, perGroup, kernel.h, kernel.w], "\(op): MAC count")
}

/// Multiply-accumulate operations of a fully connected layer for one sample: inFeatures · outFeatures.
/// Errors: sizes below 1, overflow.
public func linearMACs(inFeatures: Int, outFeatures: Int) throws -> Int {
    let op = "linearMACs"
    try requirePositive(op, [("inFeatures", inFeatures), ("outFeatures", outFeatures)])
    return try Checked.mul(inFeatures, outFeatures, "\(op): MAC count")
}
