/// Unpadded base64url, the alphabet of session ids, CSRF tokens and OAuth tokens.
///
/// Byte loops rather than Foundation's `Data` base64 plus string replacements: every forward-auth request
/// decodes a cookie, and the Foundation route (NSString bridging for each replacement) cost 8 % of a
/// replica's CPU under load.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    /// Byte → 6-bit value, 0xFF for bytes outside the alphabet (padding included).
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity((input.count * 4 + 2) / 3)
        func append(_ group: UInt32, characters: Int) {
            for index in 0..<characters { output.append(alphabet[Int((group >> (18 - 6 * UInt32(index))) & 0x3F)]) }
        }
        var index = 0
        while index + 3 <= input.count {
            append(UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2]), characters: 4)
            index += 3
        }
        switch input.count - index {
        case 1: append(UInt32(input[index]) << 16, characters: 2)
        case 2: append(UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8, characters: 3)
        default: break
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Nil for anything but unpadded base64url (a length that leaves a lone character is invalid too).
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = text.utf8
        guard utf8.count % 4 != 1 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits: UInt32 = 0
        for byte in utf8 {
            let value = values[Int(byte)]
            guard value != 0xFF else { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> bits))
                buffer &= (1 << bits) - 1
            }
        }
        return output
    }
}
