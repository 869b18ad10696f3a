package duban

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SiteRow is a site as a spreadsheet's row says it: the registration it
// makes, and its line in the file.
type SiteRow struct {
	Line    int
	Command SiteCommand
}

// RowProblem is what is wrong with a row of a spreadsheet, by line.
type RowProblem struct {
	Line    int
	Field   string
	Message string
}

func (p RowProblem) String() string {
	if p.Field == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, p.Field, p.Message)
}

// siteColumns are the columns of a sites spreadsheet, by the names its
// header may give them (English or Chinese).
var siteColumns = map[string]string{
	"id": "id", "编号": "id", "点位编号": "id",
	"name": "name", "名称": "name", "点位名称": "name",
	"type": "type", "类型": "type", "点位类型": "type",
	"area": "area", "片区": "area", "区域": "area",
	"lat": "lat", "纬度": "lat",
	"lon": "lon", "经度": "lon",
	"unit": "unit", "包保单位": "unit", "责任单位": "unit",
	"head_name": "head_name", "点位长": "head_name",
	"head_phone": "head_phone", "电话": "head_phone", "联系电话": "head_phone",
}

// csvColumnOf is the column of a site command's field, for a problem.
var csvColumnOf = map[string]string{"location.lat": "lat", "location.lon": "lon", "location": "lat, lon", "head.name": "head_name", "head.phone": "head_phone"}

// requiredSiteColumns must be in a sites spreadsheet's header.
var requiredSiteColumns = []string{"id", "name", "type", "lat", "lon"}

// maxSiteRows bounds a sites spreadsheet: a big city has a few thousand.
const maxSiteRows = 100_000

// ReadSitesCSV reads a sites spreadsheet saved as CSV (UTF-8, with or
// without a byte order mark; a header row naming the columns in English
// or Chinese) into registrations by by, each checked as DecideSite would:
// a site type, unit or area may be given by its code or its name in the
// policy. It returns the rows that are right and a problem for each that
// is not, by line; a file it cannot read at all is an error (a GBK file
// among them, with what to do about it).
func (p *Policy) ReadSitesCSV(r io.Reader, by Principal) ([]SiteRow, []RowProblem, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		return nil, nil, errors.New("the file is not UTF-8 (a spreadsheet saved as CSV on Chinese Windows is GBK): save it as \"CSV UTF-8\" and import it again")
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("the file is empty: it needs a header row (id, name, type, lat, lon, and area, unit, head_name, head_phone if any)")
	} else if err != nil {
		return nil, nil, fmt.Errorf("the header: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		name, ok := siteColumns[strings.ToLower(strings.TrimSpace(h))]
		if !ok {
			return nil, nil, fmt.Errorf("line 1: unknown column %q: the columns are id, name, type, area, lat, lon, unit, head_name, head_phone (or 编号, 名称, 类型, 片区, 纬度, 经度, 包保单位, 点位长, 电话)", h)
		}
		if _, twice := cols[name]; twice {
			return nil, nil, fmt.Errorf("line 1: column %s is given twice", name)
		}
		cols[name] = i
	}
	for _, c := range requiredSiteColumns {
		if _, ok := cols[c]; !ok {
			return nil, nil, fmt.Errorf("line 1: the header lacks column %s", c)
		}
	}
	var rows []SiteRow
	var problems []RowProblem
	firstLine := map[string]int{}
	for {
		record, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		var parse *csv.ParseError
		if errors.As(err, &parse) {
			problems = append(problems, RowProblem{Line: parse.Line, Message: parse.Err.Error()})
			continue
		} else if err != nil {
			return nil, nil, err
		}
		if len(rows)+len(problems) >= maxSiteRows {
			return nil, nil, fmt.Errorf("the file has more than %d rows", maxSiteRows)
		}
		cell := func(name string) string {
			if i, ok := cols[name]; ok && i < len(record) {
				return strings.TrimSpace(record[i])
			}
			return ""
		}
		if strings.Join(record, "") == "" {
			continue // a blank line a spreadsheet left
		}
		row, rowProblems := p.siteRow(line, cell, by)
		id := row.Command.SiteID
		if first, seen := firstLine[id]; seen && id != "" {
			rowProblems = append(rowProblems, RowProblem{Line: line, Field: "id", Message: fmt.Sprintf("site %s is on line %d already", id, first)})
		} else if id != "" {
			firstLine[id] = line
		}
		if len(rowProblems) > 0 {
			problems = append(problems, rowProblems...)
			continue
		}
		rows = append(rows, row)
	}
	return rows, problems, nil
}

// siteRow reads one row into a registration, checked.
func (p *Policy) siteRow(line int, cell func(string) string, by Principal) (SiteRow, []RowProblem) {
	var problems []RowProblem
	bad := func(field, format string, args ...any) {
		problems = append(problems, RowProblem{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	f := SiteFields{Name: cell("name"), Type: p.siteTypeCode(cell("type")), Area: p.areaID(cell("area")), Unit: p.unitID(cell("unit"))}
	for _, c := range []struct {
		name string
		dst  *float64
	}{{"lat", &f.Location.Lat}, {"lon", &f.Location.Lon}} {
		v, err := strconv.ParseFloat(cell(c.name), 64)
		if err != nil {
			bad(c.name, "must be a number, in degrees, not %q", cell(c.name))
		}
		*c.dst = v
	}
	if name, phone := cell("head_name"), cell("head_phone"); name != "" || phone != "" {
		f.Head = &SiteHead{Name: name, Phone: phone}
	}
	badNumbers := len(problems) > 0
	cmd := p.ResolveSite(SiteCommand{By: by, Kind: RegisterSite, SiteID: cell("id"), Fields: f})
	var e *Error
	if errors.As(cmd.validate(), &e) {
		for _, fe := range e.Fields {
			column, ok := csvColumnOf[fe.Field]
			if !ok {
				column = fe.Field
			}
			if badNumbers && strings.HasPrefix(fe.Field, "location") {
				continue // said already
			}
			problems = append(problems, RowProblem{Line: line, Field: column, Message: fe.Message})
		}
	}
	return SiteRow{Line: line, Command: cmd}, problems
}

// siteTypeCode is the code of the site type s names, by its code or its
// name in either language; s itself when none has it.
func (p *Policy) siteTypeCode(s string) string {
	for _, t := range p.SiteTypes {
		if s == t.Code || s == t.Name.Zh || s == t.Name.En {
			return t.Code
		}
	}
	return s
}

// unitID is the id of the unit s names, by its id or its name.
func (p *Policy) unitID(s string) string {
	for _, u := range p.Units {
		if s == u.ID || s == u.Name.Zh || s == u.Name.En {
			return u.ID
		}
	}
	return s
}

// areaID is the id of the area s names, by its id or its name.
func (p *Policy) areaID(s string) string {
	for _, a := range p.Areas {
		if s == a.ID || s == a.Name.Zh || s == a.Name.En {
			return a.ID
		}
	}
	return s
}
