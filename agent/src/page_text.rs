//! Page text for the parity check: the visible text of an HTML page (markup,
//! scripts and styles dropped, entities for the common cases decoded, white
//! space collapsed, lower case), its title, and how similar two pages are
//! (Jaccard similarity of their word 3-shingles), so that a timestamp or a
//! session token does not make two copies of one page look different.
//!
//! A page is kept as a [`Sketch`]: the smallest [`SKETCH_SIZE`] shingle
//! hashes (a bottom-k MinHash). Two sketches estimate the Jaccard similarity
//! of their pages, exactly when both pages have fewer shingles than that, and
//! within about 2% otherwise, in 16 KiB per page whatever the page's size.

/// The normalised text of a page and its title.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageText {
    /// The first `<title>`'s text, white space collapsed, at most 200 characters; None when
    /// missing or empty.
    pub title: Option<String>,
    /// The visible text: entities decoded, white space collapsed, lower case.
    pub text: String,
}

/// Elements whose content is not visible text.
const HIDDEN: [&str; 4] = ["script", "style", "noscript", "template"];

/// Extracts the visible text of an HTML (or plain text) body.
pub fn page_text(body: &[u8]) -> PageText {
    let html = String::from_utf8_lossy(body);
    let mut text = String::with_capacity(html.len() / 2);
    let mut title: Option<String> = None;
    let mut in_title = false;
    let mut title_buf = String::new();
    let mut rest: &str = &html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        if in_title {
            title_buf.push_str(&rest[..lt]);
        }
        let tag_src = &rest[lt..];
        if tag_src.starts_with("<!--") {
            rest = match tag_src.find("-->") {
                Some(end) => &tag_src[end + 3..],
                None => "",
            };
            continue;
        }
        let Some(gt) = tag_src.find('>') else {
            rest = "";
            break;
        };
        let tag = &tag_src[1..gt];
        // The tag's name as written, compared without case (no copy: this
        // runs for every tag of every page).
        let written = tag.trim_start_matches('/');
        let name = &written[..written
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(written.len())];
        let closing = tag.starts_with('/');
        rest = &tag_src[gt + 1..];
        if let Some(hidden) = HIDDEN.iter().find(|h| h.eq_ignore_ascii_case(name))
            && !closing
        {
            // Skip to the matching end tag.
            let end_tag = format!("</{hidden}");
            rest = match find_ignore_ascii_case(rest, &end_tag) {
                Some(i) => match rest[i..].find('>') {
                    Some(g) => &rest[i + g + 1..],
                    None => "",
                },
                None => "",
            };
            continue;
        }
        if name.eq_ignore_ascii_case("title") {
            if closing {
                if in_title && title.is_none() {
                    let t = collapse(&decode_entities(&title_buf));
                    if !t.is_empty() {
                        title = Some(t.chars().take(200).collect());
                    }
                }
                in_title = false;
            } else {
                in_title = true;
                title_buf.clear();
            }
        }
        text.push(' ');
    }
    text.push_str(rest);
    PageText {
        title,
        text: collapse(&decode_entities(&text)).to_lowercase(),
    }
}

/// The byte offset of `needle` in `haystack`, ASCII case ignored, without
/// copying the haystack.
fn find_ignore_ascii_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    h.windows(n.len()).position(|w| w.eq_ignore_ascii_case(n))
}

/// Collapses runs of white space into one space.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes the entities that matter for comparing text.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let end = tail[1..].find(';').map(|i| i + 1).filter(|&i| i <= 12);
        let Some(end) = end else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse::<u32>().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// How many shingle hashes a sketch keeps.
pub const SKETCH_SIZE: usize = 2048;

/// The smallest [`SKETCH_SIZE`] hashes of a text's word 3-shingles, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sketch {
    hashes: Vec<u64>,
    /// Every shingle of the text is in `hashes`.
    complete: bool,
}

fn hash_words(words: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same text gives the same hashes in every run.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    words.hash(&mut h);
    h.finish()
}

impl Sketch {
    /// The sketch of a normalised text.
    pub fn of(text: &str) -> Self {
        let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
        let mut hashes: Vec<u64> = if words.len() < 3 {
            if words.is_empty() {
                Vec::new()
            } else {
                vec![hash_words(&words)]
            }
        } else {
            words.windows(3).map(hash_words).collect()
        };
        hashes.sort_unstable();
        hashes.dedup();
        let complete = hashes.len() <= SKETCH_SIZE;
        hashes.truncate(SKETCH_SIZE);
        Self { hashes, complete }
    }

    /// The estimated Jaccard similarity of the two texts, 0..=1 (1 when both are empty).
    pub fn similarity(&self, other: &Self) -> f64 {
        if self.hashes.is_empty() && other.hashes.is_empty() {
            return 1.0;
        }
        let (a, b) = (&self.hashes, &other.hashes);
        // Walk the union in order, as far as a complete picture goes: all of
        // it when both sketches are complete, else the k smallest of the union.
        let limit = if self.complete && other.complete {
            usize::MAX
        } else {
            SKETCH_SIZE
        };
        let (mut i, mut j, mut union, mut both) = (0, 0, 0usize, 0usize);
        while union < limit && (i < a.len() || j < b.len()) {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    both += 1;
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => i += 1,
                (Some(_), Some(_)) => j += 1,
                (Some(_), None) => i += 1,
                (None, Some(_)) => j += 1,
                (None, None) => break,
            }
            union += 1;
        }
        if union == 0 {
            1.0
        } else {
            both as f64 / union as f64
        }
    }
}

/// How similar two normalised texts are, 0..=1 (1 when both are empty).
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    Sketch::of(a).similarity(&Sketch::of(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_without_markup_scripts_or_styles() {
        let page = page_text(
            b"<html><head><title> C\xe1\xbb\x95ng D&#7883;ch v&#7909; c\xc3\xb4ng </title><style>p{x:1}</style>\
              <script>var a = '<p>';</script></head><body><!-- note --><P>Xin&nbsp;ch\xc3\xa0o</P>\n<b>Ng\xc6\xb0\xe1\xbb\x9di d\xc3\xa2n</b></body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("Cổng Dịch vụ công"));
        assert_eq!(page.text, "cổng dịch vụ công xin chào người dân");
    }

    #[test]
    fn similarity_of_same_different_and_nearly_same_pages() {
        let base: String = (0..200).map(|i| format!("word{i} ")).collect();
        let a = page_text(base.as_bytes()).text;
        assert_eq!(similarity(&a, &a), 1.0);
        // One changed word (a timestamp, say) in 200 keeps the pages similar.
        let b = page_text(base.replace("word100 ", "12:00:01 ").as_bytes()).text;
        let s = similarity(&a, &b);
        assert!(s > 0.95 && s < 1.0, "{s}");
        // A different page is not.
        let c: String = (0..200).map(|i| format!("other{i} ")).collect();
        assert!(similarity(&a, &page_text(c.as_bytes()).text) < 0.05);
        assert_eq!(similarity("", ""), 1.0);
    }

    #[test]
    fn sketches_of_large_pages_estimate_closely() {
        // 20,000 words: far more shingles than a sketch keeps.
        let a: String = (0..20_000).map(|i| format!("w{i} ")).collect();
        // The same page with every tenth word changed: each change touches 3 shingles.
        let b: String = (0..20_000)
            .map(|i| {
                if i % 10 == 0 {
                    format!("x{i} ")
                } else {
                    format!("w{i} ")
                }
            })
            .collect();
        let (sa, sb) = (
            Sketch::of(&page_text(a.as_bytes()).text),
            Sketch::of(&page_text(b.as_bytes()).text),
        );
        assert_eq!(sa.hashes.len(), SKETCH_SIZE);
        assert!(!sa.complete);
        // Exact Jaccard: 14,000 shared shingles of 26,000 distinct, about 0.54.
        let exact = 14_000.0 / 26_000.0;
        let estimate = sa.similarity(&sb);
        assert!((estimate - exact).abs() < 0.05, "{estimate} vs {exact}");
        assert_eq!(sa.similarity(&sa), 1.0);
    }

    /// Markup that never closes ends the page where it stops: what came
    /// before is the text, what is inside the unclosed element is not, and
    /// a broken entity is kept as written.
    #[test]
    fn unterminated_markup_ends_the_text_where_it_stops() {
        let cases: [(&[u8], &str, Option<&str>); 7] = [
            // A title never closed is page text, not a title.
            (b"<html><title>Cong dich vu", "cong dich vu", None),
            (
                b"<title>Cong</title> dich vu <b",
                "cong dich vu",
                Some("Cong"),
            ),
            (b"hello <scr", "hello", None),
            (b"before <!-- never closed after", "before", None),
            (b"&#xZZ; &", "&#xzz; &", None),
            (b"visible <script>var hidden = 1;", "visible", None),
            (b"", "", None),
        ];
        for (body, text, title) in cases {
            let page = page_text(body);
            assert_eq!(page.text, text, "{:?}", String::from_utf8_lossy(body));
            assert_eq!(
                page.title.as_deref(),
                title,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
