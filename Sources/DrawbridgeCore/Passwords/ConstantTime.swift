// Constant-time comparison for digests and encoded hashes.

enum ConstantTime {
    /// Compares two byte strings without an early exit on the first differing byte, so the time
    /// taken does not reveal how much of a guessed digest was right. Lengths are not secret
    /// (they follow from the format), so different lengths return false at once.
    @inline(never)
    static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
