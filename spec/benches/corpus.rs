//! The benchmark corpus: one month of conformant V4.1 第6表 records, and a reader that streams it
//! again and again. Shared by `benches/validate.rs` and `examples/scale.rs`.

use std::io::Read;

use careplan_spec::ms932;

/// Generates V4.1 UPPLAN records: `users` users, 30 service rows each (two services, free text
/// with a comma and full-width characters).
pub fn month_of_records(users: u64) -> Vec<u8> {
    let mut text = String::new();
    for row in 0..users * 30 {
        let user = row / 30;
        let day = row % 30 + 1;
        let (code, office, name) = if row % 3 == 0 {
            ("151111", "0320000202", "デイサービス「ひだまり」、本館")
        } else {
            ("111211", "0320000201", "ヘルパーステーション東")
        };
        text.push_str(&format!(
            "202407,131016,{insured:010},20250420,202505,0310000100,\"山田　花子\",{units},,202505{day:02},,0900,1000,1,{code},,,,,{office},\"{name}\",,0,0310000100,\r\n",
            insured = 1_000_000_000 + user,
            units = 200 + row % 400,
        ));
    }
    let (bytes, issues) = ms932::encode(&text, false);
    assert!(issues.is_empty());
    bytes
}

/// Streams `chunk` again and again until `limit` bytes (whole chunks) have been read: the corpus
/// costs a memcpy, so the timings measure the validator, not the generator.
pub struct Repeat<'a> {
    chunk: &'a [u8],
    limit: u64,
    produced: u64,
    at: usize,
}

impl<'a> Repeat<'a> {
    pub fn new(chunk: &'a [u8], limit: u64) -> Self {
        let chunks = limit.div_ceil(chunk.len() as u64).max(1);
        Self {
            chunk,
            limit: chunks * chunk.len() as u64,
            produced: 0,
            at: 0,
        }
    }
}

impl Read for Repeat<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.produced >= self.limit {
            return Ok(0);
        }
        if self.at == self.chunk.len() {
            self.at = 0;
        }
        let take = (self.chunk.len() - self.at).min(buf.len());
        buf[..take].copy_from_slice(&self.chunk[self.at..self.at + take]);
        self.at += take;
        self.produced += take as u64;
        Ok(take)
    }
}

pub const NAME: &str = "UPPLAN_202505_0310000100_43_0320000201_11_20250425120000.CSV";
