// Thin, thread-safe wrapper over libxcrypt's crypt_r and crypt_gensalt_rn.

import CCrypt

enum LibXCrypt {
    /// Longest passphrase crypt_r accepts (CRYPT_MAX_PASSPHRASE_SIZE counts the NUL).
    static let maxPhraseBytes = Int(CRYPT_MAX_PASSPHRASE_SIZE) - 1

    enum Outcome {
        /// crypt_r's output (the full hash string it computed).
        case hashed([UInt8])
        /// crypt_r refused (NULL or an output starting with `*`).
        case failed
    }

    /// Runs `crypt_r(phrase, setting)`. Neither argument may contain NUL (callers check).
    static func crypt(phrase: [UInt8], setting: [UInt8]) -> Outcome {
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        let raw = UnsafeMutableRawPointer(data)
        let size = MemoryLayout<crypt_data>.size
        // crypt_data must be zeroed before its first use (its `initialized` field).
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            // It held the passphrase and the hash: wipe before freeing.
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            data.deallocate()
        }
        var phraseC = phrase.map { CChar(bitPattern: $0) }
        phraseC.append(0)
        var settingC = setting.map { CChar(bitPattern: $0) }
        settingC.append(0)
        defer {
            for index in phraseC.indices { phraseC[index] = 0 }
        }
        guard let output = crypt_r(phraseC, settingC, data) else { return .failed }
        let result = Array(String(cString: output).utf8)
        guard let first = result.first, first != UInt8(ascii: "*") else { return .failed }
        return .hashed(result)
    }

    /// libxcrypt's opinion of a setting or hash (crypt_checksalt).
    enum SaltCheck {
        case ok, legacy, invalid, disabled
    }

    static func checkSalt(_ setting: [UInt8]) -> SaltCheck {
        var settingC = setting.map { CChar(bitPattern: $0) }
        settingC.append(0)
        switch crypt_checksalt(settingC) {
        case CRYPT_SALT_OK, CRYPT_SALT_TOO_CHEAP: return .ok
        case CRYPT_SALT_METHOD_LEGACY: return .legacy
        case CRYPT_SALT_METHOD_DISABLED: return .disabled
        default: return .invalid
        }
    }

    /// A new setting (prefix + cost + fresh salt from the OS's random source) for `prefix`
    /// (e.g. "$2b$", "$6$", "$y$"); `count` 0 means libxcrypt's default cost. nil on error.
    static func generateSetting(prefix: String, count: Int) -> String? {
        guard count >= 0 else { return nil }
        let size = Int(CRYPT_GENSALT_OUTPUT_SIZE)
        var output = [CChar](repeating: 0, count: size)
        let ok = output.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            // nil random bytes: libxcrypt draws them from the OS (getrandom/getentropy).
            return crypt_gensalt_rn(prefix, UInt(count), nil, 0, base, Int32(size)) != nil
        }
        guard ok else { return nil }
        let setting = output.withUnsafeBufferPointer { buffer -> String in
            guard let base = buffer.baseAddress else { return "" }
            return String(cString: base)
        }
        guard !setting.isEmpty, !setting.hasPrefix("*") else { return nil }
        return setting
    }
}
