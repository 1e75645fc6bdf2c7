// Strict codecs for the base64 dialects and hex found inside stored password hashes.
//
// "Strict" means: only the dialect's own characters, the dialect's padding rule, and zero
// leftover bits. Real libraries always write canonical text, so anything else is a damaged
// hash — and a lenient decoder would let two different strings verify as the same hash.

/// How a base64 dialect treats trailing `=` padding.
enum Base64Padding: Sendable {
    /// The text must be padded to a multiple of four characters (Django, .NET, LDAP).
    case required
    /// The text must not contain `=` (PHC strings, passlib's ab64).
    case forbidden
    /// Either form is accepted, but padding that is present must be correct.
    case optional
}

/// A base64 alphabet (RFC 4648 bit order: most significant bits first).
struct Base64Codec: Sendable {
    /// The 64 characters, index = 6-bit value.
    let alphabet: [UInt8]
    /// Reverse lookup: byte → 6-bit value, or -1.
    private let values: [Int8]

    init(alphabet: String) {
        let chars = Array(alphabet.utf8)
        precondition(chars.count == 64, "a base64 alphabet has 64 characters")
        var table = [Int8](repeating: -1, count: 256)
        for (index, char) in chars.enumerated() {
            table[Int(char)] = Int8(index)
        }
        self.alphabet = chars
        self.values = table
    }

    /// RFC 4648 base64: `A–Z a–z 0–9 + /`.
    static let standard = Base64Codec(alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    /// passlib's "ab64": standard base64 with `.` instead of `+`, never padded.
    static let passlib = Base64Codec(alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./")

    /// Decodes `text`; nil if it is not canonical base64 of this dialect.
    func decode<S: StringProtocol>(_ text: S, padding: Base64Padding) -> [UInt8]? {
        var chars = Array(text.utf8)
        var padCount = 0
        while let last = chars.last, last == UInt8(ascii: "=") {
            chars.removeLast()
            padCount += 1
        }
        switch padding {
        case .forbidden:
            guard padCount == 0 else { return nil }
        case .required:
            guard (chars.count + padCount) % 4 == 0, padCount == (4 - chars.count % 4) % 4 else { return nil }
        case .optional:
            if padCount > 0 {
                guard (chars.count + padCount) % 4 == 0, padCount == (4 - chars.count % 4) % 4 else { return nil }
            }
        }
        guard chars.count % 4 != 1 else { return nil }

        var output: [UInt8] = []
        output.reserveCapacity(chars.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bitCount = 0
        for char in chars {
            let value = values[Int(char)]
            guard value >= 0 else { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bitCount)))
                accumulator &= (UInt32(1) << UInt32(bitCount)) - 1
            }
        }
        // Leftover bits must be zero, otherwise the text is not the canonical encoding.
        guard accumulator == 0 else { return nil }
        return output
    }

    /// Encodes `bytes`, padded with `=` when `pad` is true.
    func encode(_ bytes: [UInt8], pad: Bool) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let group = (b0 << 16) | (b1 << 8) | b2
            let available = min(3, bytes.count - index)
            output.append(alphabet[Int((group >> 18) & 0x3F)])
            output.append(alphabet[Int((group >> 12) & 0x3F)])
            if available > 1 { output.append(alphabet[Int((group >> 6) & 0x3F)]) } else if pad { output.append(UInt8(ascii: "=")) }
            if available > 2 { output.append(alphabet[Int(group & 0x3F)]) } else if pad { output.append(UInt8(ascii: "=")) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// The crypt(3) alphabet `./0-9A-Za-z` with phpass's little-endian bit order
/// (phpass `encode64`, Drupal `_password_base64_encode`).
enum CryptBase64 {
    static let alphabet: [UInt8] = Array("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The 6-bit value of a crypt-alphabet character, or nil.
    static func value(of char: UInt8) -> Int? {
        switch char {
        case UInt8(ascii: "."): return 0
        case UInt8(ascii: "/"): return 1
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(char - UInt8(ascii: "0")) + 2
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(char - UInt8(ascii: "A")) + 12
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(char - UInt8(ascii: "a")) + 38
        default: return nil
        }
    }

    static func isCryptText<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.allSatisfy { value(of: $0) != nil }
    }

    /// phpass `encode64($input, $count)`: groups of three bytes, least significant bits first.
    static func phpassEncode(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        let count = input.count
        while index < count {
            var value = UInt32(input[index])
            index += 1
            output.append(alphabet[Int(value & 0x3F)])
            if index < count { value |= UInt32(input[index]) << 8 }
            output.append(alphabet[Int((value >> 6) & 0x3F)])
            if index >= count { break }
            index += 1
            if index < count { value |= UInt32(input[index]) << 16 }
            output.append(alphabet[Int((value >> 12) & 0x3F)])
            if index >= count { break }
            index += 1
            output.append(alphabet[Int((value >> 18) & 0x3F)])
        }
        return output
    }
}

/// Numbers and hex digits embedded in hash strings.
enum HashText {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lower-case hex, as Python's `bytes.hex()` and `hexdigest()` write it.
    static func lowerHex<C: Sequence>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var output: [UInt8] = []
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return output
    }

    static func isLowerHex<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    static func isHex<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0)
        }
    }

    /// Strict decimal: ASCII digits only (no sign, no spaces), at most `maxDigits` of them so the
    /// value can never overflow.
    static func decimal<S: StringProtocol>(_ text: S, maxDigits: Int = 12) -> Int? {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maxDigits else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
