//go:build ignore

// gen_parquet writes the Parquet fixtures: go run gen_parquet.go (from this
// directory). Values are invented; card numbers are published test numbers.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

type patient struct {
	PatientID  int64   `parquet:"patient_id"`
	FullName   string  `parquet:"full_name"`
	Email      string  `parquet:"email,dict"`
	CardNumber int64   `parquet:"card_number"`
	NINO       string  `parquet:"nino,optional"`
	Diagnosis  string  `parquet:"diagnosis"`
	Weight     float64 `parquet:"weight_kg"`
}

type features struct {
	RowID  int64   `parquet:"row_id"`
	F0     float32 `parquet:"f0"`
	F1     float32 `parquet:"f1"`
	Label  int32   `parquet:"label"`
	Split  string  `parquet:"split"`
	Source string  `parquet:"source_file"`
}

func write[T any](name string, rows []T, groupRows int64) {
	f, err := os.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&snappy.Codec{}), parquet.MaxRowsPerRowGroup(groupRows))
	if _, err := w.Write(rows); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func main() {
	cards := []int64{4111111111111111, 5555555555554444, 378282246310005, 4012888888881881}
	ninos := []string{"AB 12 34 56 C", "CE123456D", "JG 10 37 11 A"}
	var ps []patient
	for i := 0; i < 60; i++ {
		p := patient{
			PatientID:  int64(5000 + i),
			FullName:   fmt.Sprintf("Patient %d", i),
			Email:      fmt.Sprintf("patient%d@clinic.example.org", i),
			CardNumber: cards[i%len(cards)],
			Diagnosis:  []string{"J45", "E11", "I10"}[i%3],
			Weight:     60 + float64(i%30),
		}
		if i%2 == 0 {
			p.NINO = ninos[i%len(ninos)]
		}
		ps = append(ps, p)
	}
	write("patients.parquet", ps, 16)
	var fs []features
	for i := 0; i < 500; i++ {
		fs = append(fs, features{RowID: int64(i), F0: float32(i) / 10, F1: float32(i%7) * 1.5,
			Label: int32(i % 2), Split: []string{"train", "val"}[i%5/4], Source: fmt.Sprintf("shard-%03d.tfrecord", i/100)})
	}
	write("features_clean.parquet", fs, 128)
}
