//! What the ranks say to each other through the store before any tensor
//! moves (docs/distributed.md, "Trust"): each rank claims its rank number
//! (two processes started with the same `RANK` are told apart), presents
//! its dpn version and, when `DPN_DIST_SECRET` is set, proves that it knows
//! the secret; rank 0 checks every rank and answers with a welcome that
//! proves the secret back and hands out the session: a random key prefix
//! under which everything else of the run (Gloo's addresses, dpn's
//! exchanges) lives. With a secret the session travels encrypted, so a
//! process that reaches the store without the secret can neither join nor
//! find the keys of the run to forge them.
//!
//! The keys, under the launcher's prefix (torchrun's restart count):
//! - `dpn/nonce`: rank 0's challenge, 32 random bytes in hex;
//! - `dpn/rank/<r>`: claimed once (compare-and-set) with rank r's nonce;
//! - `dpn/hello/<r>`: rank r's [`Hello`] (r >= 1);
//! - `dpn/welcome`: rank 0's [`Welcome`].
//!
//! Proofs are HMAC-SHA256 under the secret over a purpose label, the
//! challenge, the rank and the rank's nonce; the session is XORed with an
//! HMAC of the challenge under the secret.

use anyhow::Result;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::store::Store;
use crate::sys::error;

/// The environment variable that holds the run's shared secret.
pub const SECRET_VAR: &str = "DPN_DIST_SECRET";

/// Reads [`SECRET_VAR`]: unset is no secret; set but empty is refused, as a
/// launcher script that meant to pass one and lost it.
pub fn secret_from_env() -> Result<Option<Vec<u8>>> {
    match std::env::var_os(SECRET_VAR) {
        None => Ok(None),
        Some(v) if v.is_empty() => Err(error::usage(format!(
            "{SECRET_VAR} is set but empty; give it a value (the same on every rank) or unset it"
        ))),
        Some(v) => Ok(Some(v.into_encoded_bytes())),
    }
}

#[derive(Serialize, Deserialize)]
struct Hello {
    version: String,
    nonce: String,
    /// HMAC proof of the secret; absent without one.
    proof: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Welcome {
    /// The reason the run cannot start, when it cannot.
    refused: Option<String>,
    /// The session, in hex (encrypted with a secret).
    session: String,
    /// Rank 0's proof for each rank r >= 1 (index r - 1); empty without a secret.
    acks: Vec<String>,
}

/// Who this process is in the rendezvous, for messages.
pub struct Me<'a> {
    pub rank: usize,
    pub world: usize,
    pub secret: Option<&'a [u8]>,
}

impl Me<'_> {
    fn who(&self) -> String {
        format!("rank {} of {}", self.rank, self.world)
    }
}

fn mac(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    for p in parts {
        m.update(&(p.len() as u64).to_le_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Constant-time equality of two proofs.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn proof(secret: &[u8], purpose: &[u8], challenge: &[u8], rank: usize, nonce: &[u8]) -> [u8; 32] {
    mac(
        secret,
        &[purpose, challenge, &(rank as u64).to_le_bytes(), nonce],
    )
}

fn session_pad(secret: &[u8], challenge: &[u8]) -> [u8; 32] {
    mac(secret, &[b"dpn-session", challenge])
}

fn could_not_meet(store: &Store, why: &str) -> String {
    format!(
        "{}: could not meet the other ranks within {} s (--dist-timeout): {why}; check that \
         every rank was started, with the same command, and that MASTER_ADDR and MASTER_PORT \
         reach rank 0's host",
        store.who(),
        store.timeout().as_secs()
    )
}

/// Runs the rendezvous; returns the session's key prefix (`dpn/<hex>/`).
pub fn meet(store: &Store, me: &Me) -> Result<String> {
    let who = me.who();
    let nonce: [u8; 16] = rand::random();
    let won = store.claim(&format!("dpn/rank/{}", me.rank), hex(&nonce).as_bytes())?;
    if won != hex(&nonce).as_bytes() {
        return Err(error::distributed(format!(
            "{who}: another process already joined as rank {}: two processes were started \
             with the same rank (check RANK / SLURM_PROCID), or a stale process of an earlier \
             run is still connected",
            me.rank
        )));
    }
    if me.rank == 0 {
        lead(store, me, &nonce)
    } else {
        follow(store, me, &nonce)
    }
}

fn lead(store: &Store, me: &Me, _nonce: &[u8]) -> Result<String> {
    let who = me.who();
    let challenge: [u8; 32] = rand::random();
    store.set("dpn/nonce", hex(&challenge).as_bytes())?;
    let session: [u8; 16] = rand::random();
    let mut acks = Vec::with_capacity(me.world - 1);
    let mut refused = None;
    for r in 1..me.world {
        let raw = store.get_or(&format!("dpn/hello/{r}"), &format!("rank {r}"), || {
            could_not_meet(store, &format!("rank {r} did not come"))
        })?;
        let problem = match serde_json::from_slice::<Hello>(&raw) {
            Err(_) => Some(format!(
                "the process that joined as rank {r} is not a dpn (it sent no valid greeting)"
            )),
            Ok(h) if h.version != env!("CARGO_PKG_VERSION") => Some(format!(
                "the ranks run different versions of dpn: rank 0 has {}, rank {r} has {}; \
                 install the same dpn on every node",
                env!("CARGO_PKG_VERSION"),
                h.version
            )),
            Ok(h) => check_proof(me.secret, &challenge, r, &h).err(),
        };
        if let Some(p) = problem {
            refused = Some(p);
            break;
        }
        let h: Hello = serde_json::from_slice(&raw)?;
        let ack = match me.secret {
            Some(s) => hex(&proof(
                s,
                b"dpn-welcome",
                &challenge,
                r,
                &unhex(&h.nonce).unwrap_or_default(),
            )),
            None => String::new(),
        };
        acks.push(ack);
    }
    let session_field = match me.secret {
        Some(s) => {
            let pad = session_pad(s, &challenge);
            hex(&session
                .iter()
                .zip(pad.iter())
                .map(|(a, b)| a ^ b)
                .collect::<Vec<u8>>())
        }
        None => hex(&session),
    };
    // A refused run hands out nothing.
    let welcome = match &refused {
        Some(_) => Welcome {
            refused: refused.clone(),
            session: String::new(),
            acks: Vec::new(),
        },
        None => Welcome {
            refused: None,
            session: session_field,
            acks,
        },
    };
    store.set("dpn/welcome", &serde_json::to_vec(&welcome)?)?;
    if let Some(why) = refused {
        // Rank 0 serves the store: the others read the refusal first.
        store.wait_count(
            "dpn/welcomed",
            (me.world - 1) as i64,
            super::group::FAREWELL,
        );
        return Err(error::distributed(format!("{who}: {why}")));
    }
    Ok(format!("dpn/{}/", hex(&session)))
}

fn check_proof(secret: Option<&[u8]>, challenge: &[u8], r: usize, h: &Hello) -> Result<(), String> {
    match (secret, &h.proof) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(format!(
            "rank {r} did not prove {SECRET_VAR}: it has none, or is not a rank of this run; \
             give every rank the same {SECRET_VAR}"
        )),
        (None, Some(_)) => Err(format!(
            "rank {r} has {SECRET_VAR} and rank 0 has none; give every rank the same {SECRET_VAR}"
        )),
        (Some(s), Some(p)) => {
            let want = proof(
                s,
                b"dpn-join",
                challenge,
                r,
                &unhex(&h.nonce).unwrap_or_default(),
            );
            if same(&unhex(p).unwrap_or_default(), &want) {
                Ok(())
            } else {
                Err(format!(
                    "the process that joined as rank {r} did not prove {SECRET_VAR} (a \
                     different secret, or not a rank of this run); give every rank the same \
                     {SECRET_VAR}"
                ))
            }
        }
    }
}

fn follow(store: &Store, me: &Me, nonce: &[u8]) -> Result<String> {
    let who = me.who();
    let challenge = store.get_or("dpn/nonce", "rank 0", || {
        could_not_meet(store, "rank 0 did not greet this rank")
    })?;
    let challenge = unhex(&String::from_utf8_lossy(&challenge)).ok_or_else(|| {
        error::distributed(format!(
            "{who}: the store's rank 0 is not a dpn (it sent no valid challenge)"
        ))
    })?;
    let hello = Hello {
        version: env!("CARGO_PKG_VERSION").into(),
        nonce: hex(nonce),
        proof: me
            .secret
            .map(|s| hex(&proof(s, b"dpn-join", &challenge, me.rank, nonce))),
    };
    store.set(
        &format!("dpn/hello/{}", me.rank),
        &serde_json::to_vec(&hello)?,
    )?;
    let raw = store.get_or("dpn/welcome", "rank 0's welcome", || {
        could_not_meet(
            store,
            "rank 0 did not welcome this rank (another rank is missing?)",
        )
    })?;
    let not_dpn = || {
        error::distributed(format!(
            "{who}: the store's rank 0 is not a dpn (it sent no valid welcome)"
        ))
    };
    let _ = store.add("dpn/welcomed", 1);
    let w: Welcome = serde_json::from_slice(&raw).map_err(|_| not_dpn())?;
    if let Some(why) = w.refused {
        return Err(error::distributed(format!(
            "{who}: rank 0 refused the run: {why}"
        )));
    }
    let session = unhex(&w.session)
        .filter(|s| s.len() == 16)
        .ok_or_else(not_dpn)?;
    let session = match me.secret {
        None => session,
        Some(s) => {
            let ack = w
                .acks
                .get(me.rank - 1)
                .and_then(|a| unhex(a))
                .unwrap_or_default();
            let want = proof(s, b"dpn-welcome", &challenge, me.rank, nonce);
            if !same(&ack, &want) {
                return Err(error::distributed(format!(
                    "{who}: the process serving as rank 0 did not prove {SECRET_VAR}; it is \
                     not the run this rank belongs to (check MASTER_ADDR and MASTER_PORT)"
                )));
            }
            let pad = session_pad(s, &challenge);
            session.iter().zip(pad.iter()).map(|(a, b)| a ^ b).collect()
        }
    };
    Ok(format!("dpn/{}/", hex(&session)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        assert_eq!(
            unhex(&hex(&[0, 1, 254, 255])).unwrap(),
            vec![0, 1, 254, 255]
        );
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
        assert!(unhex("é1").is_none());
    }

    #[test]
    fn proofs_depend_on_every_part() {
        let p = proof(b"s", b"dpn-join", b"c", 1, b"n");
        assert!(same(&p, &proof(b"s", b"dpn-join", b"c", 1, b"n")));
        for q in [
            proof(b"t", b"dpn-join", b"c", 1, b"n"),
            proof(b"s", b"dpn-welcome", b"c", 1, b"n"),
            proof(b"s", b"dpn-join", b"d", 1, b"n"),
            proof(b"s", b"dpn-join", b"c", 2, b"n"),
            proof(b"s", b"dpn-join", b"c", 1, b"m"),
        ] {
            assert!(!same(&p, &q));
        }
        // Length-prefixed parts: moving a byte between parts changes the MAC.
        assert_ne!(mac(b"s", &[b"ab", b"c"]), mac(b"s", &[b"a", b"bc"]));
    }
}
