//! Password hashing: argon2id with the crate's default parameters, run off the async executor
//! (≈ 15 ms per hash on the reference machine).
//!
//! Each hash needs 19 MiB of working memory. Allocated per hash, glibc keeps every freed block
//! in the arena of the blocking thread that ran it (freeing a mapping that large raises the
//! mmap threshold above it), so logins spread over many blocking threads pinned ~20–40 MB per
//! arena: 96 failed logins grew RSS by 1.4 GB. Hashes instead borrow one of a few reused
//! buffers, which also bounds how many run at once (argon2 is CPU-bound: more gains nothing).

use crate::error::ApiError;
use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// Hashes running at once, at most (each holds one working-memory buffer for good).
const MAX_SLOTS: usize = 4;

/// The working-memory buffers; a hash waits for a free one.
struct Slots {
    free: Mutex<Vec<Vec<Block>>>,
    returned: Condvar,
}

impl Slots {
    fn get() -> &'static Slots {
        static SLOTS: OnceLock<Slots> = OnceLock::new();
        SLOTS.get_or_init(|| {
            let n = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, MAX_SLOTS);
            Slots {
                // Empty until first used: an idle server pays nothing.
                free: Mutex::new((0..n).map(|_| Vec::new()).collect()),
                returned: Condvar::new(),
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Vec<Block>>> {
        match self.free.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Runs `f` with a buffer of at least `blocks` blocks (waits for a free buffer).
    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let mut buf = {
            let mut free = self.lock();
            loop {
                if let Some(b) = free.pop() {
                    break b;
                }
                free = match self.returned.wait(free) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
            }
        };
        if buf.len() < blocks {
            buf.resize(blocks, Block::default());
        }
        // Returned even if `f` panics, so a slot is never lost.
        struct Return<'a>(&'a Slots, Vec<Block>);
        impl Drop for Return<'_> {
            fn drop(&mut self) {
                self.0.lock().push(std::mem::take(&mut self.1));
                self.0.returned.notify_one();
            }
        }
        let mut ret = Return(self, buf);
        let result = f(&mut ret.1);
        // A stored hash with a larger memory cost than ours borrows extra memory for one hash
        // only: kept buffers stay at the default size.
        let keep = Params::default().block_count();
        if ret.1.len() > keep {
            ret.1.truncate(keep);
            ret.1.shrink_to_fit();
        }
        result
    }
}

/// `hasher`'s hash of `password` with `salt` (raw bytes) into `out`, in a reused buffer.
fn hash_into(
    hasher: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    Slots::get().with(params.block_count(), |mem| {
        hasher.hash_password_into_with_memory(password, salt, out, mem)
    })
}

/// Hashes a password into a PHC string (`$argon2id$…`).
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(ApiError::internal)?
}

pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    let salt = salt.as_salt();
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(ApiError::internal)?;
    let params = Params::default();
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(&hasher, &params, password.as_bytes(), raw_salt, &mut out)
        .map_err(ApiError::internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(ApiError::internal)?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(ApiError::internal)?),
    };
    Ok(phc.to_string())
}

/// Checks a password against a stored PHC hash; an unparseable hash never verifies.
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || verify_blocking(&password, &stored))
        .await
        .unwrap_or(false)
}

pub fn verify_blocking(password: &str, stored: &str) -> bool {
    verify_phc(password, stored).unwrap_or(false)
}

/// `None` when `stored` is not an argon2 PHC string this build can check.
fn verify_phc(password: &str, stored: &str) -> Option<bool> {
    let parsed = PasswordHash::new(stored).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .map_or(Some(Version::default()), |v| Version::try_from(v).ok())?;
    let params = Params::try_from(&parsed).ok()?;
    let expected = parsed.hash?;
    let mut raw_salt = [0u8; 64];
    let raw_salt = parsed.salt?.decode_b64(&mut raw_salt).ok()?;
    let hasher = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    hash_into(&hasher, &params, password.as_bytes(), raw_salt, &mut out).ok()?;
    // `Output` compares in constant time.
    Some(Output::new(&out).ok()? == expected)
}

/// A hash of a random password, verified against when an identity is unknown so that a failed
/// login costs the same time whether or not the account exists.
/// Built once, off the async workers (hashing takes milliseconds and a working-memory buffer).
pub async fn decoy_hash() -> String {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DECOY.get() {
        return h.clone();
    }
    tokio::task::spawn_blocking(|| {
        DECOY
            .get_or_init(|| hash_blocking(&crate::schema::random_id()).unwrap_or_default())
            .clone()
    })
    .await
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash_blocking("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse", &h));
        assert!(!verify_blocking("wrong horse", &h));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }

    /// Hashes stay standard PHC argon2id strings, both ways: the crate verifies ours, we verify
    /// the crate's, including ones with other parameters (data from an older build or PocketBase
    /// imports).
    #[test]
    fn compatible_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_blocking("correct horse").expect("hash");
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).expect("parses");
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong horse", &parsed)
            .is_err());

        let salt = SaltString::generate(&mut OsRng);
        for params in [
            Params::default(),
            Params::new(4096, 1, 2, Some(16)).expect("params"),
        ] {
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"battery staple", &salt)
                .expect("hash")
                .to_string();
            assert!(verify_blocking("battery staple", &theirs), "{theirs}");
            assert!(!verify_blocking("battery stable", &theirs), "{theirs}");
        }
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"battery staple", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_blocking("battery staple", &argon2i));
    }

    /// Concurrent hashes share the few buffers: all finish, all verify.
    #[test]
    fn concurrent_hashes_share_the_buffers() {
        let hashes: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| s.spawn(move || hash_blocking(&format!("pw{i}")).expect("hash")))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        for (i, h) in hashes.iter().enumerate() {
            assert!(verify_blocking(&format!("pw{i}"), h));
        }
        assert!(Slots::get().lock().len() <= MAX_SLOTS);
    }
}
