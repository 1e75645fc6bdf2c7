// crypt(3) formats verified by libxcrypt: bcrypt, sha256/512-crypt, md5-crypt, yescrypt, $7$.

/// Verifies modular-crypt strings with libxcrypt after checking their shape and cost.
enum CryptVerifier {
    /// bcrypt reads at most this many bytes of the password (PHP, libxcrypt, OpenBSD).
    static let bcryptMaxPasswordBytes = 72

    /// Verifies `hash` (a crypt string) for `format`. `reportAs` is the family reported in the
    /// result (e.g. `.springBcrypt` when the bcrypt string came from behind `{bcrypt}`).
    static func verify(password: [UInt8], hash: Substring, format: PasswordHashFormat,
                       reportAs: PasswordHashFormat? = nil) -> PasswordVerification {
        let reported = reportAs ?? format
        let setting = Array(hash.utf8)
        // crypt(3) strings are printable ASCII without spaces.
        guard setting.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .malformed(reported, reason: "contains characters crypt(3) never writes")
        }
        if let problem = shapeProblem(of: setting, format: format) {
            return .malformed(reported, reason: problem)
        }
        switch LibXCrypt.checkSalt(setting) {
        case .ok, .legacy: break
        case .invalid: return .malformed(reported, reason: "libxcrypt rejects this hash string")
        case .disabled: return .malformed(reported, reason: "hash method disabled in this libxcrypt build")
        }

        var phrase = password
        if format == .bcrypt, phrase.count > bcryptMaxPasswordBytes {
            phrase = Array(phrase.prefix(bcryptMaxPasswordBytes))
        }
        // A C string ends at NUL, so such a password could only ever match a shorter one: refuse.
        // crypt_r refuses phrases over 511 bytes; no such password can have been hashed by it.
        if phrase.contains(0) || phrase.count > LibXCrypt.maxPhraseBytes {
            return .mismatch(reported)
        }
        switch LibXCrypt.crypt(phrase: phrase, setting: setting) {
        case .failed:
            return .malformed(reported, reason: "libxcrypt could not hash with this setting")
        case .hashed(let output):
            return ConstantTime.equals(output, setting) ? .match(reported) : .mismatch(reported)
        }
    }

    /// Checks the layout and the cost of a crypt string; nil when it is well-formed and affordable.
    static func shapeProblem(of hash: [UInt8], format: PasswordHashFormat) -> String? {
        let fields = hash.split(separator: UInt8(ascii: "$"), omittingEmptySubsequences: false).map { Array($0) }
        // fields[0] is the empty text before the leading "$".
        switch format {
        case .bcrypt:
            return bcryptProblem(fields)
        case .md5Crypt:
            guard fields.count == 4 else { return "expected $1$salt$hash" }
            guard fields[2].count <= 8, isCryptText(fields[2]) else { return "bad salt" }
            guard fields[3].count == 22, isCryptText(fields[3]) else { return "hash part must be 22 characters" }
            return nil
        case .sha256Crypt, .sha512Crypt:
            return shaCryptProblem(fields, hashLength: format == .sha256Crypt ? 43 : 86)
        case .yescrypt:
            guard fields.count == 5 else { return "expected $y$params$salt$hash" }
            guard !fields[3].isEmpty, isCryptText(fields[3]) else { return "bad salt" }
            guard fields[4].count == 43, isCryptText(fields[4]) else { return "hash part must be 43 characters" }
            return yescryptParamsProblem(fields[2])
        case .scryptCrypt:
            guard fields.count == 4 else { return "expected $7$params+salt$hash" }
            guard fields[3].count == 43, isCryptText(fields[3]) else { return "hash part must be 43 characters" }
            return scryptCryptParamsProblem(fields[2])
        default:
            return "not a crypt(3) format"
        }
    }

    private static func isCryptText(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { CryptBase64.value(of: $0) != nil }
    }

    private static func bcryptProblem(_ fields: [[UInt8]]) -> String? {
        guard fields.count == 4 else { return "expected $2b$cost$salt+hash" }
        guard fields[2].count == 2, let cost = HashText.decimal(String(decoding: fields[2], as: UTF8.self)) else {
            return "cost must be two digits"
        }
        guard (4...31).contains(cost) else { return "cost \(cost) outside 04–31" }
        guard cost <= PasswordHashLimits.maxBcryptCost else {
            return "cost \(cost) above the cap of \(PasswordHashLimits.maxBcryptCost)"
        }
        guard fields[3].count == 53, isCryptText(fields[3]) else { return "salt and hash must be 53 characters" }
        return nil
    }

    private static func shaCryptProblem(_ fields: [[UInt8]], hashLength: Int) -> String? {
        var rest = fields.dropFirst(2)   // after "" and "5"/"6"
        if let first = rest.first, first.starts(with: Array("rounds=".utf8)) {
            let digits = String(decoding: first.dropFirst("rounds=".count), as: UTF8.self)
            guard let rounds = HashText.decimal(digits, maxDigits: 10) else { return "bad rounds= value" }
            guard rounds <= PasswordHashLimits.maxSHACryptRounds else {
                return "rounds=\(rounds) above the cap of \(PasswordHashLimits.maxSHACryptRounds)"
            }
            rest = rest.dropFirst()
        }
        guard rest.count == 2, let salt = rest.first, let digest = rest.last else { return "expected $id$salt$hash" }
        guard salt.count <= 16, isCryptText(salt) else { return "bad salt" }
        guard digest.count == hashLength, isCryptText(digest) else { return "hash part must be \(hashLength) characters" }
        return nil
    }

    /// yescrypt's variable-length little-endian number (yescrypt-common.c decode64_uint32).
    private static func decodeVariable(_ text: [UInt8], _ position: inout Int, minimum: UInt64) -> UInt64? {
        guard position < text.count, let first = CryptBase64.value(of: text[position]) else { return nil }
        position += 1
        var start: UInt64 = 0, end: UInt64 = 47, chars = 1, bits: UInt64 = 0
        var value = minimum
        let c = UInt64(first)
        while c > end {
            value += (end + 1 - start) << bits
            start = end + 1
            end = start + (62 - end) / 2
            chars += 1
            bits += 6
        }
        value += (c - start) << bits
        while chars > 1 {
            chars -= 1
            guard position < text.count, let next = CryptBase64.value(of: text[position]) else { return nil }
            position += 1
            bits -= 6
            value += UInt64(next) << bits
        }
        return value <= UInt64(UInt32.max) ? value : nil
    }

    private static func yescryptParamsProblem(_ params: [UInt8]) -> String? {
        var position = 0
        guard decodeVariable(params, &position, minimum: 0) != nil,
              let nLog2 = decodeVariable(params, &position, minimum: 1),
              let r = decodeVariable(params, &position, minimum: 1) else { return "bad parameters" }
        var p: UInt64 = 1, t: UInt64 = 0
        if position < params.count {
            guard let have = decodeVariable(params, &position, minimum: 1) else { return "bad parameters" }
            if have & 1 != 0 {
                guard let value = decodeVariable(params, &position, minimum: 2) else { return "bad parameters" }
                p = value
            }
            if have & 2 != 0 {
                guard let value = decodeVariable(params, &position, minimum: 1) else { return "bad parameters" }
                t = value
            }
            guard have & ~3 == 0 else { return "ROM or upgraded yescrypt hashes are not supported" }
        }
        guard position == params.count else { return "bad parameters" }
        guard t <= 8 else { return "t=\(t) above the cap of 8" }
        return memoryProblem(nLog2: nLog2, r: r, p: p)
    }

    /// `$7$`: N as one character (log2), then r and p as 30-bit little-endian numbers (5 chars).
    private static func scryptCryptParamsProblem(_ field: [UInt8]) -> String? {
        guard field.count >= 11, let nLog2 = CryptBase64.value(of: field[0]) else { return "bad parameters" }
        func fixed30(_ offset: Int) -> UInt64? {
            var value: UInt64 = 0
            for index in 0..<5 {
                guard let digit = CryptBase64.value(of: field[offset + index]) else { return nil }
                value |= UInt64(digit) << UInt64(6 * index)
            }
            return value
        }
        guard let r = fixed30(1), let p = fixed30(6) else { return "bad parameters" }
        guard r >= 1, p >= 1 else { return "r and p must be at least 1" }
        return memoryProblem(nLog2: UInt64(nLog2), r: r, p: p)
    }

    private static func memoryProblem(nLog2: UInt64, r: UInt64, p: UInt64) -> String? {
        // Bounds keep 128·r·2^N·p inside UInt64 (2^7 · 2^20 · 2^30 · 2^6).
        guard (1...30).contains(nLog2), r <= 1 << 20, p <= UInt64(PasswordHashLimits.maxParallelism) else {
            return "parameters out of range (log2 N=\(nLog2), r=\(r), p=\(p))"
        }
        let memory = (UInt64(128) * r) << nLog2
        guard memory <= UInt64(PasswordHashLimits.maxMemoryBytes) else {
            return "needs \(memory >> 20) MiB, above the cap of \(PasswordHashLimits.maxMemoryBytes >> 20) MiB"
        }
        guard memory * p <= UInt64(PasswordHashLimits.maxMemoryWorkBytes) else {
            return "work (128·N·r·p) above the cap"
        }
        return nil
    }
}
