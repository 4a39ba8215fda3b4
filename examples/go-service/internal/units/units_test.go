package units

import "testing"

func TestConvert(t *testing.T) {
	cases := []struct {
		value    float64
		from, to string
		want     float64
	}{
		{1, "km", "m", 1000},
		{12, "in", "ft", 1},
		{1, "mi", "km", 1.609344},
		{250, "mm", "cm", 25},
	}
	for _, c := range cases {
		got, err := Convert(c.value, c.from, c.to)
		if err != nil || got != c.want {
			t.Errorf("Convert(%v, %s, %s) = %v, %v; want %v", c.value, c.from, c.to, got, err, c.want)
		}
	}
}

func TestUnknownUnit(t *testing.T) {
	if _, err := Convert(1, "parsec", "m"); err == nil {
		t.Fatal("want an error for an unknown unit")
	}
}
