// Caps on what one stored hash may cost to verify.
//
// Drawbridge reads a table it does not own. A corrupt or hostile row must not make one login
// burn minutes of CPU or gigabytes of memory, so every cost parameter read from a hash is
// checked against these limits first; a hash over a limit is reported as `.malformed` with the
// reason. Each cap sits well above the vectors in the test data and above the 2025 defaults of
// the libraries that write these hashes (noted per line).

/// The limits `PasswordHashVerifier` enforces before doing any expensive work.
public enum PasswordHashLimits: Sendable {
    /// Longest stored hash accepted at all (the longest real formats are ~200 characters).
    public static let maxStoredHashBytes = 1024

    /// Longest password that is hashed at all; longer ones are a `.mismatch` without hashing.
    /// WordPress refuses > 4096 bytes the same way; iterated formats (phpass, Drupal) hash the
    /// password once per round, so this also bounds their cost.
    public static let maxPasswordBytes = 4096

    /// bcrypt work factor (2^cost rounds). Defaults: PHP 8.4 / Laravel / Django 12; 16 ≈ 16× that.
    public static let maxBcryptCost = 16

    /// sha256-crypt / sha512-crypt `rounds=` (default 5 000; passlib 535 000 / 656 000).
    public static let maxSHACryptRounds = 2_000_000

    /// PBKDF2 work = iterations × output blocks (Django 5.2: 1 000 000 SHA-256 rounds, 1 block;
    /// .NET 7+: 100 000 rounds of SHA-512).
    public static let maxPBKDF2Work = 10_000_000

    /// Memory a memory-hard KDF (argon2 m, scrypt/yescrypt 128·N·r) may use: 1 GiB.
    /// Defaults: argon2-cffi 64 MiB, Django argon2 100 MiB, Werkzeug scrypt 32 MiB.
    public static let maxMemoryBytes = 1 << 30

    /// Total memory traffic: argon2 m × t, scrypt 128·N·r·p. 4 GiB (Django argon2: 200 MiB).
    public static let maxMemoryWorkBytes = 1 << 32

    /// argon2 lanes / scrypt and yescrypt parallelism (argon2-cffi 4, Django argon2 8).
    public static let maxParallelism = 64

    /// phpass / Drupal 7 log2 of the round count (WordPress 8→13, Drupal 15, passlib 19; max 30).
    public static let maxPHPassLog2Rounds = 24

    /// phpass / Drupal 7: rounds × (digest + password bytes) hashed; a longer password against a
    /// very costly hash is a `.mismatch` without hashing.
    public static let maxPHPassHashedBytes = 1 << 32

    /// Salt length for formats where the hash stores it freely (ASP.NET v3, PBKDF2 formats).
    public static let maxSaltBytes = 1024
}
