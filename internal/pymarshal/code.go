package pymarshal

import "fmt"

// code decodes a code object in the decoder's layout.
func (d *decoder) code(depth int) (Value, error) {
	d.sawCode = true
	l := d.layout
	var longs [6]int32
	for i := range l.longs {
		v, err := d.int32()
		if err != nil {
			return nil, err
		}
		longs[i] = v
	}
	c := &Code{Layout: l.name}
	switch l.name {
	case "3.11+":
		c.ArgCount, c.PosOnly, c.KwOnly, c.StackSize, c.Flags = longs[0], longs[1], longs[2], longs[3], longs[4]
	case "3.8-3.10":
		c.ArgCount, c.PosOnly, c.KwOnly, c.NLocals, c.StackSize, c.Flags = longs[0], longs[1], longs[2], longs[3], longs[4], longs[5]
	case "3.0-3.7":
		c.ArgCount, c.KwOnly, c.NLocals, c.StackSize, c.Flags = longs[0], longs[1], longs[2], longs[3], longs[4]
	default:
		c.ArgCount, c.NLocals, c.StackSize, c.Flags = longs[0], longs[1], longs[2], longs[3]
	}
	if c.ArgCount < 0 || c.PosOnly < 0 || c.KwOnly < 0 || c.NLocals < 0 || c.StackSize < 0 {
		return nil, d.errf("code object with negative counts (layout %s)", l.name)
	}
	next := func(what string) (Value, error) {
		v, err := d.object(depth + 1)
		if err != nil {
			return nil, fmt.Errorf("code %s: %w", what, err)
		}
		return v, nil
	}
	bytecode, err := next("bytecode")
	if err != nil {
		return nil, err
	}
	b, ok := bytecode.(Bytes)
	if !ok {
		return nil, d.errf("code bytecode is %T, not bytes (layout %s)", bytecode, l.name)
	}
	c.Bytecode = b
	consts, err := next("consts")
	if err != nil {
		return nil, err
	}
	ct, ok := consts.(Tuple)
	if !ok {
		return nil, d.errf("code consts is %T, not a tuple", consts)
	}
	c.Consts = ct
	if c.Names, err = d.names(next, "names"); err != nil {
		return nil, err
	}
	if l.name == "3.11+" {
		if c.VarNames, err = d.names(next, "localsplusnames"); err != nil {
			return nil, err
		}
		kinds, err := next("localspluskinds")
		if err != nil {
			return nil, err
		}
		if _, ok := kinds.(Bytes); !ok {
			return nil, d.errf("code localspluskinds is %T, not bytes", kinds)
		}
	} else {
		for _, p := range []*[]string{&c.VarNames, &c.FreeVars, &c.CellVar} {
			if *p, err = d.names(next, "variable names"); err != nil {
				return nil, err
			}
		}
	}
	if c.Filename, err = d.str(next, "filename"); err != nil {
		return nil, err
	}
	if c.Name, err = d.str(next, "name"); err != nil {
		return nil, err
	}
	if l.name == "3.11+" {
		if c.QualName, err = d.str(next, "qualname"); err != nil {
			return nil, err
		}
	}
	if c.FirstLine, err = d.int32(); err != nil {
		return nil, err
	}
	if lt, err := next("line table"); err != nil {
		return nil, err
	} else if _, ok := asString(lt); !ok { // Python 2 may intern it as a str
		return nil, d.errf("code line table is %T, not bytes", lt)
	}
	if l.name == "3.11+" {
		if et, err := next("exception table"); err != nil {
			return nil, err
		} else if _, ok := et.(Bytes); !ok {
			return nil, d.errf("code exception table is %T, not bytes", et)
		}
	}
	return c, nil
}

// names reads a tuple of strings.
func (d *decoder) names(next func(string) (Value, error), what string) ([]string, error) {
	v, err := next(what)
	if err != nil {
		return nil, err
	}
	t, ok := v.(Tuple)
	if !ok {
		return nil, d.errf("code %s is %T, not a tuple", what, v)
	}
	out := make([]string, 0, len(t))
	for _, x := range t {
		s, ok := asString(x)
		if !ok {
			return nil, d.errf("code %s holds %T, not a string", what, x)
		}
		out = append(out, s)
	}
	return out, nil
}

func (d *decoder) str(next func(string) (Value, error), what string) (string, error) {
	v, err := next(what)
	if err != nil {
		return "", err
	}
	s, ok := asString(v)
	if !ok {
		return "", d.errf("code %s is %T, not a string", what, v)
	}
	return s, nil
}

// asString accepts str, and bytes as Python 2 wrote names.
func asString(v Value) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case Bytes:
		return string(x), true
	}
	return "", false
}
