//! A small HCL formatter for `policy fmt`, printing what HCL's canonical printer prints
//! for policy files: two-space indentation, aligned `=` in runs of one-line assignments,
//! a blank line around multi-line items, comments kept in place.

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Comment(String),
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Eq,
    Comma,
    Newline,
}

fn lex(text: &str) -> Result<Vec<(Tok, usize, usize)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    while i < chars.len() {
        let c = chars[i];
        let (l, cc) = (line, col);
        let mut adv = 1;
        match c {
            '\n' => {
                out.push((Tok::Newline, l, cc));
                line += 1;
                col = 0;
            }
            ' ' | '\t' | '\r' => {}
            '#' => {
                let end = chars[i..]
                    .iter()
                    .position(|&x| x == '\n')
                    .map_or(chars.len(), |p| i + p);
                out.push((Tok::Comment(chars[i..end].iter().collect()), l, cc));
                adv = end - i;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                let end = chars[i..]
                    .iter()
                    .position(|&x| x == '\n')
                    .map_or(chars.len(), |p| i + p);
                out.push((Tok::Comment(chars[i..end].iter().collect()), l, cc));
                adv = end - i;
            }
            '"' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    if chars.get(j) == Some(&'\n') {
                        return Err(format!("At {l}:{cc}: literal not terminated"));
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(format!("At {l}:{cc}: literal not terminated"));
                }
                out.push((Tok::Str(chars[i..=j].iter().collect()), l, cc));
                adv = j + 1 - i;
            }
            '{' => out.push((Tok::LBrace, l, cc)),
            '}' => out.push((Tok::RBrace, l, cc)),
            '[' => out.push((Tok::LBrack, l, cc)),
            ']' => out.push((Tok::RBrack, l, cc)),
            '=' => out.push((Tok::Eq, l, cc)),
            ',' => out.push((Tok::Comma, l, cc)),
            c if c.is_alphanumeric() || "_-.+".contains(c) => {
                let end = chars[i..]
                    .iter()
                    .position(|&x| !(x.is_alphanumeric() || "_-.+:".contains(x)))
                    .map_or(chars.len(), |p| i + p);
                out.push((Tok::Word(chars[i..end].iter().collect()), l, cc));
                adv = end - i;
            }
            other => return Err(format!("At {l}:{cc}: illegal char {other:?}")),
        }
        i += adv;
        col += adv;
    }
    Ok(out)
}

/// A parsed value.
#[derive(Debug, Clone)]
enum Val {
    Lit(String),
    List(Vec<Val>, bool),
    Obj(Vec<Item>),
}

/// One item of a body.
#[derive(Debug, Clone)]
enum Item {
    Comment(String),
    Assign(String, Val),
    Block(Vec<String>, Vec<Item>),
}

struct Parser {
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
    end: (usize, usize),
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn at(&self) -> (usize, usize) {
        self.toks.get(self.pos).map_or(self.end, |t| (t.1, t.2))
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.pos += 1;
        }
    }

    fn body(&mut self, nested: bool) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            match self.peek().cloned() {
                None if nested => {
                    let (l, c) = self.at();
                    return Err(format!(
                        "At {l}:{c}: object expected closing RBRACE got: EOF"
                    ));
                }
                None => return Ok(items),
                Some(Tok::RBrace) if nested => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(Tok::Comment(c)) => {
                    self.pos += 1;
                    items.push(Item::Comment(c));
                }
                Some(Tok::Word(k)) | Some(Tok::Str(k)) => {
                    self.pos += 1;
                    let mut keys = vec![k];
                    loop {
                        match self.peek().cloned() {
                            Some(Tok::Eq) => {
                                self.pos += 1;
                                let v = self.value()?;
                                if keys.len() != 1 {
                                    let (l, c) = self.at();
                                    return Err(format!(
                                        "At {l}:{c}: nested object expected: LBRACE got: ASSIGN"
                                    ));
                                }
                                items.push(Item::Assign(keys.remove(0), v));
                                break;
                            }
                            Some(Tok::LBrace) => {
                                self.pos += 1;
                                let b = self.body(true)?;
                                items.push(Item::Block(keys, b));
                                break;
                            }
                            Some(Tok::Word(k)) | Some(Tok::Str(k)) => {
                                self.pos += 1;
                                keys.push(k);
                            }
                            _ => {
                                let (l, c) = self.at();
                                return Err(format!(
                                    "At {l}:{c}: key '{}' expected start of object ('{{') or assignment ('=')",
                                    keys.join(" ")
                                ));
                            }
                        }
                    }
                }
                Some(_) => {
                    let (l, c) = self.at();
                    return Err(format!(
                        "At {l}:{c}: expected: IDENT | STRING got: {:?}",
                        self.peek()
                    ));
                }
            }
        }
    }

    fn value(&mut self) -> Result<Val, String> {
        match self.peek().cloned() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => {
                self.pos += 1;
                Ok(Val::Lit(w))
            }
            Some(Tok::LBrace) => {
                self.pos += 1;
                Ok(Val::Obj(self.body(true)?))
            }
            Some(Tok::LBrack) => {
                self.pos += 1;
                let mut elems = Vec::new();
                let mut multiline = false;
                loop {
                    while self.peek() == Some(&Tok::Newline) {
                        multiline = true;
                        self.pos += 1;
                    }
                    match self.peek().cloned() {
                        Some(Tok::RBrack) => {
                            self.pos += 1;
                            let m = multiline && !elems.is_empty();
                            return Ok(Val::List(elems, m));
                        }
                        Some(Tok::Comma) | Some(Tok::Comment(_)) => self.pos += 1,
                        None => {
                            let (l, c) = self.at();
                            return Err(format!(
                                "At {l}:{c}: unexpected token while parsing list: EOF"
                            ));
                        }
                        Some(_) => elems.push(self.value()?),
                    }
                }
            }
            _ => {
                let (l, c) = self.at();
                Err(format!("At {l}:{c}: Unknown token: {:?}", self.peek()))
            }
        }
    }
}

fn multiline(item: &Item) -> bool {
    match item {
        Item::Comment(_) => false,
        Item::Block(..) => true,
        Item::Assign(_, v) => val_multiline(v),
    }
}

fn val_multiline(v: &Val) -> bool {
    match v {
        Val::Lit(_) => false,
        Val::List(e, m) => *m || e.iter().any(val_multiline),
        Val::Obj(_) => true,
    }
}

fn print_val(v: &Val, indent: usize, out: &mut String) {
    match v {
        Val::Lit(s) => out.push_str(s),
        Val::List(elems, _) if !val_multiline(v) => {
            out.push('[');
            for (i, e) in elems.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_val(e, indent, out);
            }
            out.push(']');
        }
        Val::List(elems, _) => {
            out.push_str("[\n");
            for e in elems {
                out.push_str(&"  ".repeat(indent + 1));
                print_val(e, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        Val::Obj(items) => {
            out.push_str("{\n");
            print_body(items, indent + 1, out);
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
    }
}

fn print_body(items: &[Item], indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    let mut prev: Option<&Item> = None;
    let mut i = 0;
    while i < items.len() {
        let item = &items[i];
        // Leading comments belong to the next item.
        let mut j = i;
        while matches!(items.get(j), Some(Item::Comment(_))) {
            j += 1;
        }
        let owner = items.get(j).unwrap_or(item);
        if let Some(p) = prev
            && (multiline(p) || multiline(owner) || indent == 0)
        {
            out.push('\n');
        }
        for c in &items[i..j] {
            if let Item::Comment(text) = c {
                out.push_str(&format!("{pad}{text}\n"));
            }
        }
        if j >= items.len() {
            break;
        }
        match owner {
            Item::Assign(..) if !multiline(owner) => {
                // A run of one-line assignments, `=` aligned.
                let mut run = vec![owner];
                let mut k = j + 1;
                while let Some(next @ Item::Assign(..)) = items.get(k) {
                    if multiline(next) {
                        break;
                    }
                    run.push(next);
                    k += 1;
                }
                let width = run
                    .iter()
                    .map(|it| match it {
                        Item::Assign(key, _) => key.chars().count(),
                        _ => 0,
                    })
                    .max()
                    .unwrap_or(0);
                for it in &run {
                    if let Item::Assign(key, v) = it {
                        let mut line = format!("{pad}{key:<width$} = ");
                        print_val(v, indent, &mut line);
                        out.push_str(&line);
                        out.push('\n');
                    }
                }
                prev = run.last().copied();
                i = k;
                continue;
            }
            Item::Assign(key, v) => {
                out.push_str(&format!("{pad}{key} = "));
                print_val(v, indent, out);
                out.push('\n');
            }
            Item::Block(keys, body) => {
                out.push_str(&format!("{pad}{} {{\n", keys.join(" ")));
                print_body(body, indent + 1, out);
                out.push_str(&format!("{pad}}}\n"));
            }
            Item::Comment(_) => {}
        }
        prev = Some(owner);
        i = j + 1;
    }
}

/// Format an HCL policy document; `Err` carries the parse error (`At L:C: ...`).
pub fn format(text: &str) -> Result<String, String> {
    let toks = lex(text)?;
    let lines = text.lines().count().max(1);
    let mut parser = Parser {
        toks,
        pos: 0,
        end: (lines + 1, 1),
    };
    let items = parser.body(false)?;
    let mut out = String::new();
    print_body(&items, 0, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_hcl_printer() {
        let src = "# top comment\npath \"a/*\" {\ncapabilities=[\"read\",\"list\"]\n    min_wrapping_ttl = \"1s\"\n  allowed_parameters = {\n \"x\" = []\n }\n}\npath \"b\" { capabilities = [\"deny\"] }\n\n\n\npath \"c\" {\n  # inner\n  capabilities = [\n    \"create\",\n    \"update\",\n  ]\n}\n";
        let want = "# top comment\npath \"a/*\" {\n  capabilities     = [\"read\", \"list\"]\n  min_wrapping_ttl = \"1s\"\n\n  allowed_parameters = {\n    \"x\" = []\n  }\n}\n\npath \"b\" {\n  capabilities = [\"deny\"]\n}\n\npath \"c\" {\n  # inner\n  capabilities = [\n    \"create\",\n    \"update\",\n  ]\n}\n";
        assert_eq!(format(src).unwrap(), want);
    }

    #[test]
    fn reports_unterminated_lists() {
        assert_eq!(
            format("path \"x\" { capabilities = [\n").unwrap_err(),
            "At 2:1: unexpected token while parsing list: EOF"
        );
    }
}
