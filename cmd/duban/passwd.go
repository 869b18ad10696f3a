package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/duban/duban"
)

// passwd reads a password and prints its hash for the policy. At a terminal
// it asks twice without echo; otherwise it reads the first line of
// standard input, so that a script can pipe a password in (never as an
// argument, which other users of the machine could read).
func (m *Main) passwd() error {
	var password string
	if f, ok := m.Config.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(m.Config.Stderr, "Password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprint(m.Config.Stderr, "\nAgain: ")
		if err != nil {
			return err
		}
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(m.Config.Stderr)
		if err != nil {
			return err
		}
		if string(first) != string(again) {
			return errors.New("the passwords differ")
		}
		password = string(first)
	} else {
		line, err := bufio.NewReader(m.Config.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("give the password on standard input: printf %s PASSWORD | duban passwd")
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if len(password) < 8 {
		return errors.New("a password must be at least 8 characters")
	}
	fmt.Fprintln(m.Config.Stdout, duban.HashPassword(password))
	return nil
}
