// Argon2 PHC strings (argon2-cffi, PHP, libsodium; Django and Spring wrap the same string),
// verified with libargon2.

import CArgon2

enum Argon2Verifier {
    /// The parameters of a PHC string, parsed by us first so that its cost can be capped
    /// before libargon2 allocates anything.
    struct Parameters: Sendable {
        let variant: PasswordHashFormat   // .argon2id / .argon2i / .argon2d
        let memoryKiB: Int
        let iterations: Int
        let parallelism: Int
    }

    /// Verifies a `$argon2…$` string; `reportAs` names the family in the result.
    static func verify(password: [UInt8], phc: Substring, reportAs: PasswordHashFormat?) -> PasswordVerification {
        let parsed = parse(phc)
        let reported = reportAs ?? parsed.parameters?.variant ?? .argon2id
        guard let parameters = parsed.parameters else {
            return .malformed(reported, reason: parsed.problem ?? "not an argon2 PHC string")
        }
        let type: argon2_type
        switch parameters.variant {
        case .argon2i: type = Argon2_i
        case .argon2d: type = Argon2_d
        default: type = Argon2_id
        }
        var encoded = Array(phc.utf8).map { CChar(bitPattern: $0) }
        encoded.append(0)
        let result = password.withUnsafeBytes { bytes in
            argon2_verify(encoded, bytes.baseAddress, bytes.count, type)
        }
        switch result {
        case Int32(ARGON2_OK.rawValue):
            return .match(reported)
        case Int32(ARGON2_VERIFY_MISMATCH.rawValue):
            return .mismatch(reported)
        default:
            let message = argon2_error_message(result).map { String(cString: $0) } ?? "error \(result)"
            return .malformed(reported, reason: "libargon2: \(message)")
        }
    }

    /// Parses `$argon2id$v=19$m=65536,t=3,p=4$salt$hash` (the `v=` part is optional: version 1.0).
    static func parse(_ phc: Substring) -> (parameters: Parameters?, problem: String?) {
        let fields = phc.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5 || fields.count == 6, fields[0].isEmpty else {
            return (nil, "expected $argon2id$v=19$m=…,t=…,p=…$salt$hash")
        }
        let variant: PasswordHashFormat
        switch fields[1] {
        case "argon2id": variant = .argon2id
        case "argon2i": variant = .argon2i
        case "argon2d": variant = .argon2d
        default: return (nil, "unknown argon2 variant")
        }
        var index = 2
        if fields.count == 6 {
            guard fields[2] == "v=19" || fields[2] == "v=16" else { return (nil, "unknown argon2 version") }
            index = 3
        }
        var memory: Int?, iterations: Int?, parallelism: Int?
        for item in fields[index].split(separator: ",", omittingEmptySubsequences: false) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, let value = HashText.decimal(pair[1], maxDigits: 10) else {
                return (nil, "bad parameter list")
            }
            switch pair[0] {
            case "m" where memory == nil: memory = value
            case "t" where iterations == nil: iterations = value
            case "p" where parallelism == nil: parallelism = value
            default: return (nil, "bad parameter list")
            }
        }
        guard let m = memory, let t = iterations, let p = parallelism else { return (nil, "missing m, t or p") }
        guard t >= 1, p >= 1, m >= 8 * p else { return (nil, "parameters out of range") }
        let memoryBytes = m * 1024
        guard memoryBytes <= PasswordHashLimits.maxMemoryBytes else {
            return (nil, "m=\(m) KiB above the cap of \(PasswordHashLimits.maxMemoryBytes >> 10) KiB")
        }
        guard t <= 1 << 20, memoryBytes * t <= PasswordHashLimits.maxMemoryWorkBytes else {
            return (nil, "t=\(t) with m=\(m) KiB above the work cap")
        }
        guard p <= PasswordHashLimits.maxParallelism else {
            return (nil, "p=\(p) above the cap of \(PasswordHashLimits.maxParallelism)")
        }
        guard let salt = Base64Codec.standard.decode(fields[index + 1], padding: .forbidden), salt.count >= 8 else {
            return (nil, "salt is not unpadded base64 of at least 8 bytes")
        }
        guard let digest = Base64Codec.standard.decode(fields[index + 2], padding: .forbidden), digest.count >= 4 else {
            return (nil, "hash is not unpadded base64 of at least 4 bytes")
        }
        return (Parameters(variant: variant, memoryKiB: m, iterations: t, parallelism: p), nil)
    }

    /// A new argon2id PHC string (libargon2, version 1.3, 16-byte salt, 32-byte hash).
    static func hashArgon2id(password: [UInt8], iterations: Int, memoryKiB: Int, parallelism: Int) -> String? {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        guard let t = UInt32(exactly: iterations), let m = UInt32(exactly: memoryKiB),
              let p = UInt32(exactly: parallelism) else { return nil }
        let length = argon2_encodedlen(t, m, p, UInt32(salt.count), 32, Argon2_id)
        var encoded = [CChar](repeating: 0, count: length + 1)
        let result = password.withUnsafeBytes { pwd in
            salt.withUnsafeBytes { saltBytes in
                encoded.withUnsafeMutableBufferPointer { buffer in
                    argon2id_hash_encoded(t, m, p, pwd.baseAddress, pwd.count, saltBytes.baseAddress, saltBytes.count,
                                          32, buffer.baseAddress, buffer.count)
                }
            }
        }
        guard result == Int32(ARGON2_OK.rawValue) else { return nil }
        let bytes = encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
