//! The interactive shell: splitting a line into commands like virsh does
//! (quotes, backslashes, `;` between commands, `#` comments) and the prompt loop.

use super::CliError;

/// Splits one input line into commands, each a list of words.
pub fn split_commands(line: &str) -> Result<Vec<Vec<String>>, CliError> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_whitespace() && *c != '\n')
        {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        if c == ';' || c == '\n' {
            chars.next();
            if !words.is_empty() {
                commands.push(std::mem::take(&mut words));
            }
            continue;
        }
        if c == '#' {
            // A comment runs to the end of the line.
            while chars.peek().is_some_and(|c| *c != '\n') {
                chars.next();
            }
            continue;
        }
        let mut word = String::new();
        let mut in_double = false;
        while let Some(&c) = chars.peek() {
            if !in_double && (c.is_whitespace() || c == ';') {
                break;
            }
            chars.next();
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => word.push(escaped),
                    None => return Err(CliError::Usage("dangling \\".to_string())),
                },
                '\'' if !in_double => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => word.push(q),
                        None => {
                            return Err(CliError::Usage("missing '".to_string()));
                        }
                    }
                },
                '"' => in_double = !in_double,
                other => word.push(other),
            }
        }
        if in_double {
            return Err(CliError::Usage("missing \"".to_string()));
        }
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    Ok(commands)
}

/// The banner virsh prints when its shell starts on a terminal.
pub fn banner() -> &'static str {
    "Welcome to hangarctl, the virtualization interactive terminal.\n\n\
     Type:  'help' for help with commands\n       'quit' to quit\n\n"
}

/// The prompt, as virsh's `virsh # `.
pub const PROMPT: &str = "hangarctl # ";

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<Vec<String>> {
        split_commands(s).unwrap_or_default()
    }

    #[test]
    fn splits_words_and_commands() {
        assert_eq!(
            split("net-list --all; net-info  default"),
            vec![vec!["net-list", "--all"], vec!["net-info", "default"]]
        );
        assert_eq!(split("  # only a comment"), Vec::<Vec<String>>::new());
        assert_eq!(split("list # trailing"), vec![vec!["list"]]);
    }

    #[test]
    fn quotes_and_escapes_keep_spaces() {
        assert_eq!(
            split(r#"define "my file.xml" 'a;b' c\ d e"f g"h"#),
            vec![vec!["define", "my file.xml", "a;b", "c d", "ef gh"]]
        );
        assert!(split_commands("echo 'open").is_err());
        assert!(split_commands("echo \"open").is_err());
    }
}
